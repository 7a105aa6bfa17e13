-- The raw JSON Value array and the declared VR of every projected tag (dicom_tags seed, plus the
-- key UIDs) of every existing instance, pulled out of its metadata with ONE json_extract call per
-- row (one parse per document): the Value paths, then the VR paths, in one list.

{%- set tags = dicom_extracted_tags() %}
{%- set tag_count = tags | length %}

with

instances as (

    select * from {{ ref('int_instances_current') }}

),

extracted as (

    select
        partition_name,
        study_instance_uid,
        series_instance_uid,
        sop_instance_uid,
        {{ json_extract_paths('metadata', dicom_value_and_vr_paths(tags)) }} as tag_values
    from instances
    where is_present and metadata is not null

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
        sop_instance_uid
    from extracted

)

select * from final
