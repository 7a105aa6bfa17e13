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
        studies.partition_name as {{ adapter.quote('partitionName') }},
        studies.study_instance_uid as {{ adapter.quote('studyInstanceUid') }},
        studies.last_modified as {{ adapter.quote('lastModifiedTimestamp') }},
        instance_attributes.study_date as {{ adapter.quote('studyDate') }},
        instance_attributes.study_description as {{ adapter.quote('studyDescription') }},
        instance_attributes.issuer_of_patient_id as {{ adapter.quote('issuerOfPatientId') }},
        instance_attributes.patient_id as {{ adapter.quote('patientId') }},
        instance_attributes.patient_name as {{ adapter.quote('patientName') }},
        studies.series_count as {{ adapter.quote('seriesCount') }},
        studies.instance_count as {{ adapter.quote('instanceCount') }}
    from studies
    inner join instance_attributes
        on {{ columns_match('studies', 'instance_attributes', keys) }}

)

select * from final
