-- One row per instance ever seen: whether it exists now (its highest-sequence event decides),
-- the event that decided it, and the sequence of its current metadata (the most recently
-- extracted usable one; the document itself stays in staging).
-- Incremental: a build recomputes the instances that have newly staged events.

{{
    config(
        on_schema_change='sync_all_columns',
        pre_hook="{{ delete_staged_instances() }}",
    )
}}


with

events as (

    select * from {{ ref('int_instance_events_ordered') }}
    where {{ instance_among(instances_staged_since_last_build()) }}

),

staged as (

    select * from {{ ref('stg_landing__changefeed') }}
    where
        {{ feed_event_is_usable() }}
        and {{ instance_among(instances_staged_since_last_build()) }}

),

usable_metadata as (

    -- the feed returns the instance's current metadata on every row: newest extraction wins;
    -- events feed_anomalies lists (unknown action, a key missing) are not used. Only the
    -- winning sequence is picked here (small columns); the models that need the document join
    -- it from staging by that sequence, once.
    select
        {{ instance_key() }},
        {{ value_at_max(
            'sequence', make_struct({'extracted_at': 'extracted_at', 'sequence': 'sequence'})
        ) }} as metadata_sequence,
        max(extracted_at) as metadata_extracted_at
    from staged
    where metadata_hash is not null and metadata_error is null
    group by {{ instance_key() }}

),

loads as (

    select
        {{ instance_key() }},
        max(load_id) as load_id
    from staged
    group by {{ instance_key() }}

),

latest_events as (

    select
        {{ instance_key() }},
        max(sequence) as last_sequence,
        {{ value_at_max('event_at', 'sequence') }} as last_modified,
        {{ value_at_max('action', 'sequence') }} as last_action,
        {{ value_at_max('feed_state', 'sequence') }} as last_feed_state,
        {{ value_at_max('file_path', 'sequence') }} as file_path,
        max(sequence) filter (where is_delete) as last_delete_sequence
    from events
    group by {{ instance_key() }}

),

incarnations as (

    -- when the current incarnation began: the first event after the last delete
    select
        {{ instance_key('latest_events') }},
        min(events.event_at) as created_at
    from latest_events
    inner join events
        on
            {{ instance_key_matches('latest_events', 'events') }}
            and events.sequence > coalesce(latest_events.last_delete_sequence, -1)
    group by all

),

final as (

    select
        {{ instance_key('latest_events') }},
        latest_events.last_action != 'Delete' as is_present,
        latest_events.last_action,
        latest_events.last_feed_state,
        latest_events.last_sequence,
        latest_events.last_modified,
        incarnations.created_at,
        latest_events.file_path,
        usable_metadata.metadata_sequence,
        usable_metadata.metadata_extracted_at,
        loads.load_id
    from latest_events
    left join loads
        on {{ instance_key_matches('latest_events', 'loads') }}
    left join incarnations
        on {{ instance_key_matches('latest_events', 'incarnations') }}
    left join usable_metadata
        on {{ instance_key_matches('latest_events', 'usable_metadata') }}

)

select * from final
