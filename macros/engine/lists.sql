{#-
    List primitives (Spark: transform / filter / slice). Dispatched like the JSON ones;
    `default__` is DuckDB.
-#}

{#- Element `index` (1-based) of a list. -#}
{% macro list_element(list_expr, index) %}
    {{ return(adapter.dispatch('list_element', 'dicom_lake')(list_expr, index)) }}
{% endmacro %}

{% macro default__list_element(list_expr, index) -%}
    ({{ list_expr }})[{{ index }}]
{%- endmacro %}

{#- Apply `body` (an expression in `variable`) to each element of a list. -#}
{% macro list_map(list_expr, variable, body) %}
    {{ return(adapter.dispatch('list_map', 'dicom_lake')(list_expr, variable, body)) }}
{% endmacro %}

{% macro default__list_map(list_expr, variable, body) -%}
    list_transform({{ list_expr }}, lambda {{ variable }}: {{ body }})
{%- endmacro %}

{#- The number of elements of a list for which `condition` (an expression in `variable`) holds. -#}
{% macro list_count_where(list_expr, variable, condition) %}
    {{ return(adapter.dispatch('list_count_where', 'dicom_lake')(list_expr, variable, condition)) }}
{% endmacro %}

{% macro default__list_count_where(list_expr, variable, condition) -%}
    coalesce(len(list_filter({{ list_expr }}, lambda {{ variable }}: {{ condition }})), 0)
{%- endmacro %}

{#- The first `count` elements of a list. -#}
{% macro list_head(list_expr, count) %}
    {{ return(adapter.dispatch('list_head', 'dicom_lake')(list_expr, count)) }}
{% endmacro %}

{% macro default__list_head(list_expr, count) -%}
    list_slice({{ list_expr }}, 1, {{ count }})
{%- endmacro %}

{#- The distinct non-null values of an aggregated column as a sorted list. -#}
{% macro sorted_distinct_list(column) %}
    {{ return(adapter.dispatch('sorted_distinct_list', 'dicom_lake')(column)) }}
{% endmacro %}

{% macro default__sorted_distinct_list(column) -%}
    list_sort(list_distinct(list({{ column }})))
{%- endmacro %}
