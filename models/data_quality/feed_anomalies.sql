-- Change-feed events the models cannot use, one row per event and problem, with the reason: an
-- action other than Create, Update or Delete, or a key column the entry does not name (null,
-- empty or blank). Such an event is ignored for existence, history and attributes; the build
-- goes on.
-- Incremental: a build rewrites the events staged since its last build.

{{
    config(
        pre_hook="{{ delete_staged_events() }}",
    )
}}

with

events as (

    {{ events_staged_since_last_build() }}

),

checked as (

    select
        *,
        {{ feed_action('action') }} is null as is_unknown_action,
        case
            {%- for column in instance_key_columns() %}
            when not {{ feed_key_is_named(column) }} then '{{ column }}'
            {%- endfor %}
        end as missing_key
    from events

),

unknown_actions as (

    select
        *,
        'unknown_action' as anomaly,
        case
            when action is null then 'the entry has no action'
            else 'action ''' || action || ''' is not Create, Update or Delete'
        end || ': the event is ignored for existence, history and attributes' as reason
    from checked
    where is_unknown_action

),

missing_keys as (

    select
        *,
        'missing_key' as anomaly,
        'the entry names no ' || missing_key || ' (or an empty one)'
        || ': the event is ignored for existence, history and attributes' as reason
    from checked
    where missing_key is not null

),

anomalies as (

    select * from unknown_actions
    union all
    select * from missing_keys

),

final as (

    select
        partition_name,
        study_instance_uid,
        series_instance_uid,
        sop_instance_uid,
        sequence,
        action,
        feed_state,
        event_at,
        extracted_at,
        source,
        anomaly,
        reason,
        metadata_hash is not null as has_metadata
    from anomalies

)

select * from final
