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

quarantined as (

    select
        *,
        -- the event's own document is the one shown
        sequence as metadata_sequence
    from events
    where metadata_error is not null

),

documents as (

    {{ staged_documents('quarantined') }}

),

final as (

    select
        quarantined.partition_name,
        quarantined.study_instance_uid,
        quarantined.series_instance_uid,
        quarantined.sop_instance_uid,
        quarantined.sequence,
        quarantined.action,
        quarantined.event_at,
        quarantined.extracted_at,
        quarantined.source,
        quarantined.metadata_error as reason,
        documents.metadata
    from quarantined
    left join documents on quarantined.sequence = documents.sequence

)

select * from final
