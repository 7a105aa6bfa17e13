{#-
    True when an incremental model must recompute every row: a first build, a full refresh, or
    a target that lacks one of `expected_columns` (a column added to the tag seed: the rows
    already there would otherwise keep a null in it).
-#}
{% macro incremental_needs_all_rows(expected_columns) %}
    {%- if not execute or not is_incremental() -%}
        {{ return(true) }}
    {%- endif -%}
    {%- set existing = adapter.get_columns_in_relation(this) | map(attribute='name')
        | map('lower') | list -%}
    {%- for column in expected_columns -%}
        {%- if (column | lower) not in existing -%}
            {{ return(true) }}
        {%- endif -%}
    {%- endfor -%}
    {{ return(false) }}
{% endmacro %}
