-- Every Create / Update / Delete event of every instance, in sequence order, with the event that
-- followed it. Events with another action, or naming no key, are left out of all decisions (they
-- are listed in feed_anomalies).
-- Incremental: a build recomputes the events of the instances that have newly staged events.

{{
    config(
        pre_hook="{{ delete_staged_instances() }}",
    )
}}

with

events as (

    select * from {{ ref('stg_landing__changefeed') }}
    where {{ instance_among(instances_staged_since_last_build()) }}

),

known_actions as (

    select
        {{ instance_key('events') }},
        events.sequence,
        events.event_at,
        {{ feed_action('events.action') }} as action,
        lower(events.action) = 'delete' as is_delete,
        events.feed_state,
        events.file_path,
        events.extracted_at
    from events
    where {{ feed_event_is_usable('events') }}

),

ordered as (

    select
        *,
        row_number() over instance_events as event_number,
        -- the feed's timestamps need not rise with sequence (late commits): keep versions monotonic
        max(event_at) over events_so_far as version_start_at,
        lead(sequence) over instance_events as next_sequence
    from known_actions
    -- two windows: Spark takes no frame for lead()
    window
        instance_events as (partition by {{ instance_key() }} order by sequence),
        events_so_far as (
            partition by {{ instance_key() }}
            order by sequence
            rows between unbounded preceding and current row
        )

),

final as (

    select
        *,
        lead(version_start_at) over instance_window as version_end_at,
        lead(event_at) over instance_window as next_event_at
    from ordered
    window instance_window as (partition by {{ instance_key() }} order by sequence)

)

select * from final
