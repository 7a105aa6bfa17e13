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
        series.partition_name as {{ adapter.quote('partitionName') }},
        series.study_instance_uid as {{ adapter.quote('studyInstanceUid') }},
        series.series_instance_uid as {{ adapter.quote('seriesInstanceUid') }},
        series.last_modified as {{ adapter.quote('lastModifiedTimestamp') }},
        instance_attributes.study_date as {{ adapter.quote('studyDate') }},
        instance_attributes.study_description as {{ adapter.quote('studyDescription') }},
        instance_attributes.issuer_of_patient_id as {{ adapter.quote('issuerOfPatientId') }},
        instance_attributes.patient_id as {{ adapter.quote('patientId') }},
        instance_attributes.patient_name as {{ adapter.quote('patientName') }},
        instance_attributes.modality,
        series.instance_count as {{ adapter.quote('instanceCount') }}
    from series
    inner join instance_attributes
        on {{ columns_match('series', 'instance_attributes', keys) }}

)

select * from final
