-- One row per existing instance, with every projected attribute (dicom_tags seed) typed by VR.
-- Incremental on the instance key: a run rewrites only the instances whose latest event or
-- chosen metadata changed; the post-hook removes the instances deleted since.

{%- set keys = instance_key_columns() %}
{%- set fixed = keys + [
    'created_at', 'file_path', 'last_action', 'last_sequence', 'last_modified',
    'metadata_sequence', 'metadata_extracted_at', 'metadata',
] %}
{%- set columns = dicom_projected_columns(
    dicom_projected_tags(), 'tag_values', exclude=fixed
) %}

{%- set all_rows = incremental_needs_all_rows(keys + fixed + columns | map(attribute='name') | list) %}

{{
    config(
        materialized='incremental',
        unique_key=keys,
        incremental_strategy='delete+insert',
        on_schema_change='sync_all_columns',
        post_hook="
            delete from {{ this }} as existing
            where exists (
                select 1 from {{ ref('int_instances_current') }} as current_instances
                where {{ instance_key_matches('current_instances', 'existing') }}
                    and not current_instances.is_present
            )
        ",
    )
}}

with

instances as (

    select * from {{ ref('int_instances_current') }}
    {%- if not all_rows %} as current_instances
    -- an incremental run recomputes the instances whose decisive event or chosen metadata moved
    where not exists (
        select 1 from {{ this }} as existing
        where
            {{ instance_key_matches('existing', 'current_instances') }}
            and existing.last_sequence = current_instances.last_sequence
            and existing.last_modified = current_instances.last_modified
            and existing.last_action = current_instances.last_action
            and existing.created_at is not distinct from current_instances.created_at
            and existing.file_path is not distinct from current_instances.file_path
            and existing.metadata_sequence is not distinct from current_instances.metadata_sequence
            and existing.metadata_extracted_at
            is not distinct from current_instances.metadata_extracted_at
    )
    {%- endif %}

),

tag_values as (

    select * from {{ ref('int_instance_tag_values') }}

),

staged as (

    select * from {{ ref('stg_changefeed__events') }}

),

final as (

    select
        instances.partition_name,
        instances.study_instance_uid,
        instances.series_instance_uid,
        instances.sop_instance_uid,
        {%- for column in columns %}
        {{ column['expression'] }} as {{ adapter.quote(column['name']) }},
        {%- endfor %}
        instances.created_at,
        instances.file_path,
        instances.last_action,
        instances.last_sequence,
        instances.last_modified,
        instances.metadata_sequence,
        instances.metadata_extracted_at,
        staged.metadata
    from instances
    left join staged on instances.metadata_sequence = staged.sequence
    left join tag_values
        on
            instances.partition_name = tag_values.partition_name
            and instances.study_instance_uid = tag_values.study_instance_uid
            and instances.series_instance_uid = tag_values.series_instance_uid
            and instances.sop_instance_uid = tag_values.sop_instance_uid
    where instances.is_present

)

select * from final
