{{
    config(
        materialized='incremental',
        unique_key='sequence',
        incremental_strategy='delete+insert',
        on_schema_change='append_new_columns',
    )
}}

with

landed as (

    select * from {{ source('changefeed', 'landing') }}
    {% if is_incremental() %}
    -- files land with a later extracted_at; >= re-reads the last batch, which is harmless
    where extracted_at >= (select max(existing.extracted_at) from {{ this }} as existing)
    {% endif %}

),

renamed as (

    select
        cast(sequence as bigint) as sequence,
        cast("timestamp" as timestamptz) as event_at,  -- noqa: RF06
        cast(action as varchar) as action,
        cast(state as varchar) as feed_state,
        cast(partition_name as varchar) as partition_name,
        cast(study_instance_uid as varchar) as study_instance_uid,
        cast(series_instance_uid as varchar) as series_instance_uid,
        cast(sop_instance_uid as varchar) as sop_instance_uid,
        cast(file_path as varchar) as file_path,
        cast(metadata as varchar) as metadata,
        {{ json_object_error('metadata') }} as metadata_error,
        cast(extracted_at as timestamptz) as extracted_at,
        cast(source as varchar) as source
    from landed

),

deduplicated as (

    -- one row per sequence: the most recently extracted copy (its metadata is the newest)
    select * from renamed
    -- (ties on extracted_at: usable metadata first, then a hash, so the big text is never compared)
    qualify row_number() over (
        partition by sequence
        order by
            extracted_at desc,
            metadata is not null and metadata_error is null desc,
            source desc,
            hash(metadata) desc
    ) = 1

)

select * from deduplicated
