-- One row per study with at least one existing instance. Patient and study attributes come from
-- the most recent instance that has usable metadata (highest last_sequence, then sop_instance_uid).

{%- set keys = ['partition_name', 'study_instance_uid'] %}
{%- set fixed = keys + [
    'modalities_in_study', 'series_count', 'instance_count', 'last_sequence', 'last_modified',
] %}
{%- set columns = dicom_projected_columns(
    dicom_projected_tags(['patient', 'study']), 'instances', exclude=fixed
) %}
{%- set series_tags = dicom_projected_tags(['series']) | map(attribute='column_name') | list %}
{%- set modalities = sorted_distinct_list('modality') if 'modality' in series_tags
    else 'cast([] as varchar [])' %}

with

instances as (

    select * from {{ ref('instance') }}

),

series as (

    select * from {{ ref('series') }}

),

events as (

    select * from {{ ref('int_instance_events_ordered') }}

),

most_recent_instance as (

    -- the projected columns only: the window never carries the metadata documents
    select
        partition_name,
        study_instance_uid,
        {%- if 'series_instance_uid' in keys %}
        series_instance_uid,
        {%- endif %}
        {%- for column in columns %}
        {{ adapter.quote(column['name']) }},
        {%- endfor %}
        metadata_sequence,
        last_sequence,
        sop_instance_uid
    from instances
    qualify row_number() over (
        partition by partition_name, study_instance_uid
        order by metadata_sequence is not null desc, last_sequence desc, sop_instance_uid desc
    ) = 1

),

series_rollup as (

    select
        partition_name,
        study_instance_uid,
        {{ modalities }} as modalities_in_study,
        count(*) as series_count,
        sum(instance_count) as instance_count
    from series
    group by partition_name, study_instance_uid

),

last_events as (

    select
        partition_name,
        study_instance_uid,
        max(sequence) as last_sequence,
        arg_max(event_at, sequence) as last_modified
    from events
    group by partition_name, study_instance_uid

),

final as (

    select
        series_rollup.partition_name,
        series_rollup.study_instance_uid,
        {%- for column in columns %}
        instances.{{ adapter.quote(column['name']) }},
        {%- endfor %}
        series_rollup.modalities_in_study,
        series_rollup.series_count,
        cast(series_rollup.instance_count as bigint) as instance_count,
        last_events.last_sequence,
        last_events.last_modified
    from series_rollup
    inner join most_recent_instance as instances
        on
            series_rollup.partition_name = instances.partition_name
            and series_rollup.study_instance_uid = instances.study_instance_uid
    inner join last_events
        on
            series_rollup.partition_name = last_events.partition_name
            and series_rollup.study_instance_uid = last_events.study_instance_uid

)

select * from final
