-- One row per study with at least one existing instance. Patient and study attributes come from
-- the most recent instance that has usable metadata (highest last_sequence, then sop_instance_uid).
-- Incremental: a build rewrites the studies holding an instance that changed since its last build.

{%- set keys = var('mart_keys')['study'] %}
{%- set fixed = keys + [
    'modalities_in_study', 'series_count', 'instance_count', 'last_sequence', 'last_modified',
] %}
{%- set columns = dicom_projected_columns(
    dicom_projected_tags(['patient', 'study']), 'instances', exclude=fixed
) %}
{%- set series_tags = dicom_projected_tags(['series']) | map(attribute='column_name') | list %}
{%- set modalities = sorted_distinct_list('modality') if 'modality' in series_tags
    else empty_text_list() %}

{{
    config(
        on_schema_change='sync_all_columns',
        pre_hook="{{ delete_changed_groups(var('mart_keys')['study']) }}",
    )
}}

with

instances as (

    select * from {{ ref('instance') }}
    where {{ group_changed(keys) }}

),

series as (

    select * from {{ ref('series') }}
    where {{ group_changed(keys) }}

),

events as (

    select * from {{ ref('int_instance_events_ordered') }}
    where {{ group_changed(keys) }}

),

most_recent_instance as (

    {{ most_recent_instance('instances', keys, columns) }}

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

    {{ last_events('events', keys) }}

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
        on {{ columns_match('series_rollup', 'instances', keys) }}
    inner join last_events
        on {{ columns_match('series_rollup', 'last_events', keys) }}

)

select * from final
