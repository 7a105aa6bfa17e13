{#-
    Rolling existing instances up to a level (series, study) given by its key columns.
-#}

{#-
    The most recent instance of each group of `keys` among `instances` (the instance mart): the
    one with usable metadata first, then the highest last_sequence, then the highest
    sop_instance_uid, so disagreements resolve deterministically. Only the keys, the projected
    `columns` (as dicom_projected_columns returns them) and what orders them: the window never
    carries the metadata documents.
-#}
{% macro most_recent_instance(instances, keys, columns) -%}
    {%- set selected = keys[:] -%}
    {%- for column in columns -%}
        {%- do selected.append(adapter.quote(column['name'])) -%}
    {%- endfor -%}
    {%- do selected.extend(['metadata_sequence', 'last_sequence', 'sop_instance_uid']) -%}
    select {{ selected | join(', ') }}
    from (
        select
            {{ selected | join(', ') }},
            row_number() over (
                partition by {{ keys | join(', ') }}
                order by metadata_sequence is not null desc, last_sequence desc, sop_instance_uid desc
            ) as recency_rank
        from {{ instances }}
    ) as ranked_instances
    where recency_rank = 1
{%- endmacro %}

{#-
    The latest event of each group of `keys` among `events` (int_instance_events_ordered): every
    event counts, deletes of its instances included.
-#}
{% macro last_events(events, keys) -%}
    select
        {%- for key in keys %}
        {{ key }},
        {%- endfor %}
        max(sequence) as last_sequence,
        {{ value_at_max('event_at', 'sequence') }} as last_modified
    from {{ events }}
    group by {{ keys | join(', ') }}
{%- endmacro %}
