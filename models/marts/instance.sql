-- One row per existing instance, with every projected attribute (dicom_tags seed) typed by VR.
-- Incremental: a build rewrites the instances whose current state changed since its last build
-- (the pre-hook deletes them, gone ones included; the present ones are appended again).

{%- set keys = instance_key_columns() %}
{%- set fixed = keys + [
    'created_at', 'file_path', 'last_action', 'last_sequence', 'last_modified',
    'metadata_sequence', 'metadata_extracted_at', 'metadata',
] %}
{%- set columns = dicom_projected_columns(
    dicom_projected_tags(), 'tag_values', exclude=fixed
) %}

{{
    config(
        on_schema_change='sync_all_columns',
        pre_hook="{{ delete_changed_instances() }}",
    )
}}

with

instances as (

    select * from {{ ref('int_instances_current') }}
    where is_present and {{ loaded_since_last_build() }}

),

tag_values as (

    -- the changed instances' values were extracted in this build or later than this model's
    -- last build, so the older loads' row groups are skipped
    select * from {{ ref('int_instance_tag_values') }}
    where {{ loaded_since_last_build() }}

),

typed as (

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
        instances.metadata_extracted_at
    from instances
    left join tag_values
        on {{ instance_key_matches('instances', 'tag_values') }}

),

documents as (

    {{ staged_documents('instances') }}

),

final as (

    -- the documents joined last, to the typed rows, not carried through the other join
    select
        typed.*,
        documents.metadata
    from typed
    left join documents on typed.metadata_sequence = documents.sequence

)

select * from final
