-- The raw JSON Value array and the declared VR of every projected tag (dicom_tags seed, plus the
-- key UIDs) of every existing instance, pulled out of its metadata with ONE json_extract call per
-- row (one parse per document): each tag's Value and VR paths, through the first item of each
-- sequence on its way, in every spelling (dicom_extraction_plan). A tag taking every item keeps
-- its first sequence's items, walked when typed. A private block is renamed by a text scan first.
-- Incremental: a build parses the instances whose current state changed since its last build.

{%- set tags = dicom_extracted_tags() %}
{%- set plan = dicom_extraction_plan(tags) %}
{%- set document = namespace(text='documents.metadata') %}
{%- for group, creator in dicom_private_blocks(tags) %}
    {%- set document.text = json_private_block_renamed(
        document.text, 'documents.metadata', group, creator, loop.index0
    ) %}
{%- endfor %}

{{
    config(
        on_schema_change='sync_all_columns',
        pre_hook="{{ delete_changed_instances() }}",
    )
}}

with

changed_instances as (

    select * from {{ ref('int_instances_current') }}
    where is_present and {{ loaded_since_last_build() }}

),

documents as (

    {{ staged_documents() }}

),

extracted as (

    select
        changed_instances.partition_name,
        changed_instances.study_instance_uid,
        changed_instances.series_instance_uid,
        changed_instances.sop_instance_uid,
        changed_instances.metadata_sequence,
        changed_instances.metadata_extracted_at,
        changed_instances.load_id,
        {{ json_extract_paths(document.text, plan['paths']) }} as tag_values
    from changed_instances
    inner join documents on changed_instances.metadata_sequence = documents.sequence

),

final as (

    select
        {%- for tag in tags %}
        {{ dicom_extracted('tag_values', plan, loop.index, 'value') }}
            as {{ adapter.quote(dicom_raw_column(tag)) }},
        {{ dicom_extracted('tag_values', plan, loop.index, 'vr') }}
            as {{ adapter.quote(dicom_declared_vr_column(tag)) }},
        {%- endfor %}
        partition_name,
        study_instance_uid,
        series_instance_uid,
        sop_instance_uid,
        metadata_sequence,
        metadata_extracted_at,
        load_id
    from extracted

)

select * from final
