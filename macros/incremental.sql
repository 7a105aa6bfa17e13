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

{#-
    The equality of the instance key of two relations (aliases), for joins and hooks.
-#}
{% macro instance_key_matches(left, right) -%}
    {{ left }}.partition_name = {{ right }}.partition_name
    and {{ left }}.study_instance_uid = {{ right }}.study_instance_uid
    and {{ left }}.series_instance_uid = {{ right }}.series_instance_uid
    and {{ left }}.sop_instance_uid = {{ right }}.sop_instance_uid
{%- endmacro %}
