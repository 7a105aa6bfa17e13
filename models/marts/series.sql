-- One row per series with at least one existing instance. Series attributes come from the most
-- recent instance that has usable metadata (highest last_sequence, then highest sop_instance_uid).
-- Incremental: a build rewrites the series holding an instance that changed since its last build.

{%- set keys = var('mart_keys')['series'] %}
{%- set fixed = keys + [
    'instance_count', 'first_instance_created_at', 'last_instance_created_at',
    'last_sequence', 'last_modified',
] %}
{%- set columns = dicom_projected_columns(
    dicom_projected_tags(['series']), 'instances', exclude=fixed
) %}

{{
    config(
        on_schema_change='sync_all_columns',
        pre_hook="{{ delete_changed_groups(var('mart_keys')['series']) }}",
    )
}}

with

instances as (

    select * from {{ ref('instance') }}
    where {{ group_changed(keys) }}

),

events as (

    select * from {{ ref('int_instance_events_ordered') }}
    where {{ group_changed(keys) }}

),

most_recent_instance as (

    {{ most_recent_instance('instances', keys, columns) }}

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
    {{ last_events('events', keys) }}

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
        on {{ columns_match('instance_counts', 'instances', keys) }}
    inner join last_events
        on {{ columns_match('instance_counts', 'last_events', keys) }}

)

select * from final
