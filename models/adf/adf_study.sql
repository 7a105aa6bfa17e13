-- The ADF template's study table, column for column, from the study mart: one row per study
-- with an existing instance. Its study and patient columns come from the study's most recent
-- instance, as the mart's do.

{%- set keys = var('mart_keys')['study'] %}

with

studies as (

    select * from {{ ref('study') }}

),

instance_attributes as (

    {{ adf_group_attributes(ref('instance'), keys) }}

),

final as (

    select
        studies.partition_name as "partitionName",
        studies.study_instance_uid as "studyInstanceUid",
        studies.last_modified as "lastModifiedTimestamp",
        instance_attributes.study_date as "studyDate",
        instance_attributes.study_description as "studyDescription",
        instance_attributes.issuer_of_patient_id as "issuerOfPatientId",
        instance_attributes.patient_id as "patientId",
        instance_attributes.patient_name as "patientName",
        studies.series_count as "seriesCount",
        studies.instance_count as "instanceCount"
    from studies
    inner join instance_attributes
        on {{ columns_match('studies', 'instance_attributes', keys) }}

)

select * from final
