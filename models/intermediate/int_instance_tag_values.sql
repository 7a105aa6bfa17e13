-- The raw JSON Value array and the declared VR of every projected tag (dicom_tags seed, plus the
-- key UIDs) of every existing instance, pulled out of its metadata with ONE json_extract call per
-- row (one parse per document): the Value paths, then the VR paths, in one list.
-- Incremental: a run parses only the instances whose chosen metadata changed (another sequence,
-- or the same sequence extracted again); the post-hook drops the rows of instances that no
-- longer exist or no longer have that metadata.

{%- set tags = dicom_extracted_tags() %}
{%- set tag_count = tags | length %}
{%- set expected = ['metadata_sequence', 'metadata_extracted_at'] %}
{%- for tag in tags %}
{%- do expected.append(dicom_raw_column(tag)) %}
{%- do expected.append(dicom_declared_vr_column(tag)) %}
{%- endfor %}
{%- set all_rows = incremental_needs_all_rows(expected) %}

{{
    config(
        materialized='incremental',
        unique_key=instance_key_columns(),
        incremental_strategy='delete+insert',
        on_schema_change='sync_all_columns',
        post_hook="
            delete from {{ this }} as existing
            where not exists (
                select 1 from {{ ref('int_instances_current') }} as current_instances
                where {{ instance_key_matches('current_instances', 'existing') }}
                    and current_instances.is_present
                    and current_instances.metadata_sequence = existing.metadata_sequence
                    and current_instances.metadata_extracted_at = existing.metadata_extracted_at
            )
        ",
    )
}}

with

instances as (

    select * from {{ ref('int_instances_current') }}

),

staged as (

    select * from {{ ref('stg_changefeed__events') }}

),

changed_instances as (

    select * from instances
    where is_present
    {%- if not all_rows %}
        and not exists (
            select 1 from {{ this }} as existing
            where
                {{ instance_key_matches('existing', 'instances') }}
                and existing.metadata_sequence = instances.metadata_sequence
                and existing.metadata_extracted_at = instances.metadata_extracted_at
        )
    {%- endif %}

),

extracted as (

    select
        changed_instances.partition_name,
        changed_instances.study_instance_uid,
        changed_instances.series_instance_uid,
        changed_instances.sop_instance_uid,
        changed_instances.metadata_sequence,
        changed_instances.metadata_extracted_at,
        {{ json_extract_paths('staged.metadata', dicom_value_and_vr_paths(tags)) }} as tag_values
    from changed_instances
    inner join staged on changed_instances.metadata_sequence = staged.sequence

),

final as (

    select
        {%- for tag in tags %}
        {{ list_element('tag_values', loop.index) }} as {{ adapter.quote(dicom_raw_column(tag)) }},
        {{ json_text(list_element('tag_values', tag_count + loop.index)) }}
            as {{ adapter.quote(dicom_declared_vr_column(tag)) }},
        {%- endfor %}
        partition_name,
        study_instance_uid,
        series_instance_uid,
        sop_instance_uid,
        metadata_sequence,
        metadata_extracted_at
    from extracted

)

select * from final
