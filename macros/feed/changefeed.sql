{#-
    The change feed's actions, read case-insensitively: 'Create', 'Update' or 'Delete' in their
    canonical case, null for any other value (such an event is ignored and listed in
    feed_anomalies).
-#}
{% macro feed_action(action) -%}
    case lower({{ action }})
        when 'create' then 'Create'
        when 'update' then 'Update'
        when 'delete' then 'Delete'
    end
{%- endmacro %}

{#-
    True when a key column names something: not null, and not empty or blank ("" is no UID,
    and would make every such entry one instance).
-#}
{% macro feed_key_is_named(column) -%}
    coalesce(trim({{ column }}), '') != ''
{%- endmacro %}

{#-
    True when a staged event can be used: a known action and every key column named. Events
    that fail it are listed in feed_anomalies and take part in nothing else.
-#}
{% macro feed_event_is_usable(relation_alias=none) -%}
    {%- set prefix = relation_alias ~ '.' if relation_alias else '' -%}
    ({{ feed_action(prefix ~ 'action') }} is not null
    {%- for column in instance_key_columns() %}
    and {{ feed_key_is_named(prefix ~ column) }}
    {%- endfor -%})
{%- endmacro %}

{#-
    How staging ranks two copies of one event (one sequence), highest first: the most recently
    extracted, then one with usable metadata, then by source and the hash of the metadata, so
    the choice never depends on the order rows were read in and the text is never read again.
-#}
{% macro staged_copy_rank(relation_alias=none) -%}
    {%- set prefix = relation_alias ~ '.' if relation_alias else '' -%}
    {{ make_struct({
        'extracted_at': prefix ~ 'extracted_at',
        'is_usable': prefix ~ 'metadata_hash is not null and ' ~ prefix ~ 'metadata_error is null',
        'source': 'coalesce(' ~ prefix ~ "source, '')",
        'metadata_hash': 'coalesce(' ~ prefix ~ 'metadata_hash, 0)',
    }) }}
{%- endmacro %}
