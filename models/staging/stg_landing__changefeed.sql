{{
    config(
        incremental_strategy=replacing_strategy(),
        unique_key='sequence',
        on_schema_change='append_new_columns',
    )
}}

{#- the privacy policy applies here, where documents enter the warehouse (docs/privacy.md);
    without one, each document stays in its landed file, named by landed_file and landed_row -#}
{%- set policy = privacy_policy() -%}
{%- set landed_protection = 'documents.protected_with'
    if policy is not none and landed_files_record_protection() else none -%}
{%- set load_id = '(select coalesce(max(existing.load_id), 0) + 1 from ' ~ this ~ ' as existing)'
    if is_incremental() else '1' %}
{#- files land with a later extracted_at; >= re-reads the last batch (dropped in new_copies) -#}
{%- set newly_landed = 'extracted_at >= (select max(existing.extracted_at) from '
    ~ this ~ ' as existing)' if is_incremental() else 'true' %}

with

landed as (

    select * from {{ source('landing', 'changefeed') }}
    where {{ newly_landed }}

),

copies as (

    -- every landed copy of an event, without its text (the one parse of each document here):
    -- choosing between copies never carries the documents through a window
    select
        cast(sequence as bigint) as sequence,
        filename,
        file_row_number,
        {{ json_object_error('metadata') }} as metadata_error,
        -- copies of an event are compared by this hash, never by their text
        case when metadata is not null then {{ text_hash('metadata') }} end as metadata_hash,
        cast(extracted_at as {{ type_instant() }}) as extracted_at,
        cast(source as string) as source
    from landed

),

winning_copies as (

    -- one copy per sequence: the most recently extracted (its metadata is the newest)
    select * from (
        select
            *,
            row_number() over (
                partition by sequence order by {{ staged_copy_rank() }} desc
            ) as copy_rank
        from copies
    ) as ranked_copies
    where copy_rank = 1

),

new_copies as (

    select * from winning_copies
    {% if is_incremental() %}
    -- a copy already staged, or beaten by the staged one, is not loaded again
    where not exists (
        select 1 from {{ this }} as existing
        where
            existing.sequence = winning_copies.sequence
            and {{ staged_copy_rank('existing') }} >= {{ staged_copy_rank('winning_copies') }}
    )
    {% endif %}

),

documents as (

    -- the landed rows again, read a second time rather than kept: a copy of the documents
    -- shared by two references would be held in memory
    select * from {{ source('landing', 'changefeed') }}
    where {{ newly_landed }}

),

final as (

    select
        new_copies.sequence,
        cast(documents.{{ adapter.quote('timestamp') }} as {{ type_instant() }}) as event_at,
        cast(documents.action as string) as action,
        cast(documents.state as string) as feed_state,
        cast(documents.partition_name as string) as partition_name,
        {{ protected_column('documents.study_instance_uid', '0020000D', policy, landed_protection) }}
            as study_instance_uid,
        {{ protected_column('documents.series_instance_uid', '0020000E', policy, landed_protection) }}
            as series_instance_uid,
        {{ protected_column('documents.sop_instance_uid', '00080018', policy, landed_protection) }}
            as sop_instance_uid,
        {{ protected_column('documents.file_path', 'path', policy, landed_protection) }}
            as file_path,
        {% if policy is none -%}
        cast(null as string)
        {%- else -%}
        {{ protected_column('documents.metadata', 'document', policy, landed_protection) }}
        {%- endif %} as metadata,
        new_copies.metadata_error,
        new_copies.metadata_hash,
        new_copies.extracted_at,
        new_copies.source,
        {{ landed_file_name('new_copies.filename') }} as landed_file,
        new_copies.file_row_number as landed_row,
        -- which build staged the row: the later models take in only the loads they have not seen
        {{ load_id }} as load_id
    from documents
    inner join new_copies
        on
            documents.filename = new_copies.filename
            and documents.file_row_number = new_copies.file_row_number

)

select * from final
