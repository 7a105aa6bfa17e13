{#-
    The instance key: partition_name and the three UIDs, as the feed names them (the `instance`
    entry of the mart_keys var in dbt_project.yml).
-#}
{% macro instance_key_columns() %}
    {{ return(var('mart_keys')['instance']) }}
{% endmacro %}

{#-
    The instance key columns as a select, group by or partition by list, optionally qualified
    with a relation alias.
-#}
{% macro instance_key(relation_alias=none) -%}
    {%- set prefix = relation_alias ~ '.' if relation_alias else '' -%}
    {%- for column in instance_key_columns() -%}
        {{ prefix ~ column }}{{ ', ' if not loop.last }}
    {%- endfor -%}
{%- endmacro %}

{#-
    The equality of some columns between two relations (aliases), for joins.
-#}
{% macro columns_match(left, right, columns) -%}
    {%- for column in columns -%}
        {{ ' and ' if not loop.first }}{{ left }}.{{ column }} = {{ right }}.{{ column }}
    {%- endfor -%}
{%- endmacro %}

{#-
    The equality of the instance key of two relations (aliases), for joins and hooks.
-#}
{% macro instance_key_matches(left, right) -%}
    {{ columns_match(left, right, instance_key_columns()) }}
{%- endmacro %}
