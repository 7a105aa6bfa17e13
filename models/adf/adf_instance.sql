-- The ADF template's instance table, column for column, from the instance mart: one row per
-- existing instance. Its attributes are text as sent (all values, backslash-separated, where the
-- template kept only the first; a person name's Alphabetic component), read from the metadata.

{%- set attributes = adf_instance_attributes() | list %}

with

instances as (

    select * from {{ ref('instance') }}

),

final as (

    select
        instances.partition_name as "partitionName",
        instances.study_instance_uid as studyinstanceuid,
        instances.series_instance_uid as seriesinstanceuid,
        instances.sop_instance_uid as sopinstanceuid,
        instances.last_modified as "lastModifiedTimestamp",
        {{ adf_attribute_text('instances.metadata', 'studydate') }} as studydate,
        instances.study_date as studydate_formatted,
        {%- for column in attributes[1:7] %}
        {{ adf_attribute_text('instances.metadata', column) }} as {{ column }},
        {%- endfor %}
        instances.file_path as filepath,
        {{ json_dicom_map('instances.metadata') }} as metadata,
        {{ json_render(json_dicom_map('instances.metadata')) }} as metadata_string,
        instances.metadata_extracted_at as created_date,
        {%- for column in attributes[7:-1] %}
        {{ adf_attribute_text('instances.metadata', column) }} as {{ column }},
        {%- endfor %}
        {{ adf_attribute_text('instances.metadata', attributes[-1]) }} as {{ attributes[-1] }}
    from instances

)

select * from final
