-- One row per existing instance, with every projected attribute (dicom_tags seed) typed by VR.

{%- set keys = ['partition_name', 'study_instance_uid', 'series_instance_uid', 'sop_instance_uid'] %}
{%- set fixed = keys + [
    'created_at', 'file_path', 'last_action', 'last_sequence', 'last_modified',
    'metadata_sequence', 'metadata_extracted_at', 'metadata',
] %}
{%- set columns = dicom_projected_columns(
    dicom_projected_tags(), 'tag_values', exclude=fixed
) %}

with

instances as (

    select * from {{ ref('int_instances_current') }}

),

tag_values as (

    select * from {{ ref('int_instance_tag_values') }}

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
        instances.metadata
    from instances
    left join tag_values
        on
            instances.partition_name = tag_values.partition_name
            and instances.study_instance_uid = tag_values.study_instance_uid
            and instances.series_instance_uid = tag_values.series_instance_uid
            and instances.sop_instance_uid = tag_values.sop_instance_uid
    where instances.is_present

)

select * from final
