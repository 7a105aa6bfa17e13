-- Every Create / Update / Delete event of every instance, in sequence order, with the event that
-- followed it. Events with another action, or naming no key, are left out of all decisions (they
-- are listed in feed_anomalies).

with

events as (

    select * from {{ ref('stg_changefeed__events') }}

),

known_actions as (

    select
        {{ instance_key() }},
        sequence,
        event_at,
        {{ feed_action('action') }} as action,
        lower(action) = 'delete' as is_delete,
        feed_state,
        file_path,
        extracted_at
    from events
    where {{ feed_event_is_usable() }}

),

ordered as (

    select
        *,
        row_number() over instance_window as event_number,
        -- the feed's timestamps need not rise with sequence (late commits): keep versions monotonic
        max(event_at) over instance_window as version_start_at,
        lead(sequence) over instance_window as next_sequence
    from known_actions
    window instance_window as (
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
