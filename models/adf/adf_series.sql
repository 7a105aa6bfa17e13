-- The ADF template's series table, column for column, from the series mart: one row per series
-- with an existing instance. Its study and patient columns come from the series' most recent
-- instance, as the mart's series attributes do.

{%- set keys = var('mart_keys')['series'] %}

with

series as (

    select * from {{ ref('series') }}

),

instance_attributes as (

    {{ adf_group_attributes(ref('instance'), keys) }}

),

final as (

    select
        series.partition_name as "partitionName",
        series.study_instance_uid as "studyInstanceUid",
        series.series_instance_uid as "seriesInstanceUid",
        series.last_modified as "lastModifiedTimestamp",
        instance_attributes.study_date as "studyDate",
        instance_attributes.study_description as "studyDescription",
        instance_attributes.issuer_of_patient_id as "issuerOfPatientId",
        instance_attributes.patient_id as "patientId",
        instance_attributes.patient_name as "patientName",
        instance_attributes.modality,
        series.instance_count as "instanceCount"
    from series
    inner join instance_attributes
        on {{ columns_match('series', 'instance_attributes', keys) }}

)

select * from final
