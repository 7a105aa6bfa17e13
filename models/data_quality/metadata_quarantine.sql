-- Change-feed events whose metadata could not be used, with the reason. They still count for
-- existence (action and sequence); their instance takes its attributes from another event's
-- metadata if one is usable, otherwise its projected columns are null.
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

final as (

    select
        partition_name,
        study_instance_uid,
        series_instance_uid,
        sop_instance_uid,
        sequence,
        action,
        event_at,
        extracted_at,
        source,
        metadata_error as reason,
        metadata
    from events
    where metadata_error is not null

)

select * from final
