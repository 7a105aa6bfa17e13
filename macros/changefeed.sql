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
    True when a staged event can be used: a known action and every key column named. Events
    that fail it are listed in feed_anomalies and take part in nothing else.
-#}
{% macro feed_event_is_usable(relation_alias=none) -%}
    {%- set prefix = relation_alias ~ '.' if relation_alias else '' -%}
    ({{ feed_action(prefix ~ 'action') }} is not null
    and {{ prefix }}partition_name is not null
    and {{ prefix }}study_instance_uid is not null
    and {{ prefix }}series_instance_uid is not null
    and {{ prefix }}sop_instance_uid is not null)
{%- endmacro %}
