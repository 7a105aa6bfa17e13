-- The ADF template's instance table, column for column, from the instance mart: one row per
-- existing instance. Its attributes are text as sent (all values, backslash-separated, where the
-- template kept only the first; a person name's Alphabetic component), read from the metadata.

{%- set attributes = adf_instance_attributes() | list %}

with

instances as (

    select * from {{ ref('instance') }}

),

documents_read as (

    -- each document is read once: its attributes' values, and the map of all its attributes
    select
        *,
        {{ adf_attribute_values('metadata') }} as attribute_values,
        {{ json_dicom_map('metadata') }} as metadata_map
    from instances

),

final as (

    select
        instances.partition_name as {{ adapter.quote('partitionName') }},
        instances.study_instance_uid as studyinstanceuid,
        instances.series_instance_uid as seriesinstanceuid,
        instances.sop_instance_uid as sopinstanceuid,
        instances.last_modified as {{ adapter.quote('lastModifiedTimestamp') }},
        {{ adf_attribute_text('instances.attribute_values', 'studydate') }} as studydate,
        instances.study_date as studydate_formatted,
        {%- for column in attributes[1:7] %}
        {{ adf_attribute_text('instances.attribute_values', column) }} as {{ column }},
        {%- endfor %}
        instances.file_path as filepath,
        instances.metadata_map as metadata,
        {{ json_render('instances.metadata_map') }} as metadata_string,
        instances.metadata_extracted_at as created_date,
        {%- for column in attributes[7:-1] %}
        {{ adf_attribute_text('instances.attribute_values', column) }} as {{ column }},
        {%- endfor %}
        {{ adf_attribute_text('instances.attribute_values', attributes[-1]) }} as {{ attributes[-1] }}
    from documents_read as instances

)

select * from final
