-- One row per series with at least one existing instance. Series attributes come from the most
-- recent instance that has usable metadata (highest last_sequence, then highest sop_instance_uid).

{%- set keys = ['partition_name', 'study_instance_uid', 'series_instance_uid'] %}
{%- set fixed = keys + [
    'instance_count', 'first_instance_created_at', 'last_instance_created_at',
    'last_sequence', 'last_modified',
] %}
{%- set columns = dicom_projected_columns(
    dicom_projected_tags(['series']), 'instances', exclude=fixed
) %}

with

instances as (

    select * from {{ ref('instance') }}

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
        partition by partition_name, study_instance_uid, series_instance_uid
        order by metadata_sequence is not null desc, last_sequence desc, sop_instance_uid desc
    ) = 1

),

instance_counts as (

    select
        partition_name,
        study_instance_uid,
        series_instance_uid,
        count(*) as instance_count,
        min(created_at) as first_instance_created_at,
        max(created_at) as last_instance_created_at
    from instances
    group by partition_name, study_instance_uid, series_instance_uid

),

last_events as (

    -- every event of the series counts, deletes of its instances included
    select
        partition_name,
        study_instance_uid,
        series_instance_uid,
        max(sequence) as last_sequence,
        arg_max(event_at, sequence) as last_modified
    from events
    group by partition_name, study_instance_uid, series_instance_uid

),

final as (

    select
        instance_counts.partition_name,
        instance_counts.study_instance_uid,
        instance_counts.series_instance_uid,
        {%- for column in columns %}
        instances.{{ adapter.quote(column['name']) }},
        {%- endfor %}
        instance_counts.instance_count,
        instance_counts.first_instance_created_at,
        instance_counts.last_instance_created_at,
        last_events.last_sequence,
        last_events.last_modified
    from instance_counts
    inner join most_recent_instance as instances
        on
            instance_counts.partition_name = instances.partition_name
            and instance_counts.study_instance_uid = instances.study_instance_uid
            and instance_counts.series_instance_uid = instances.series_instance_uid
    inner join last_events
        on
            instance_counts.partition_name = last_events.partition_name
            and instance_counts.study_instance_uid = last_events.study_instance_uid
            and instance_counts.series_instance_uid = last_events.series_instance_uid

)

select * from final
