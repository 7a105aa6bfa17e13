-- SCD type 2 from the change feed: one row per event-version of each instance. A Delete gives a
-- tombstone row (is_deleted). Versions are half-open: valid_from <= t < valid_to (null: current).
-- Incremental: a build rewrites the history of the instances that changed since its last build.

{{
    config(
        pre_hook="{{ delete_changed_instances() }}",
    )
}}

with

events as (

    select * from {{ ref('int_instance_events_ordered') }}
    where {{ instance_among(instances_changed_since_last_build()) }}

),

final as (

    select
        partition_name,
        study_instance_uid,
        series_instance_uid,
        sop_instance_uid,
        sequence,
        action,
        is_delete as is_deleted,
        version_start_at as valid_from,
        version_end_at as valid_to,
        next_sequence is null as is_current,
        event_at,
        feed_state,
        -- the row changes again when the next event closes it
        coalesce(next_sequence, sequence) as last_sequence,
        coalesce(next_event_at, event_at) as last_modified
    from events

)

select * from final
