{#-
    List primitives, dispatched like the JSON ones: `default__` is DuckDB, `spark__` Spark SQL
    (written to give the same result with ANSI mode on or off: try_element_at, array_size).
-#}

{#- Element `index` (1-based) of a list. -#}
{% macro list_element(list_expr, index) %}
    {{ return(adapter.dispatch('list_element', 'dicom_lake')(list_expr, index)) }}
{% endmacro %}

{% macro default__list_element(list_expr, index) -%}
    ({{ list_expr }})[{{ index }}]
{%- endmacro %}

{% macro spark__list_element(list_expr, index) -%}
    try_element_at({{ list_expr }}, {{ index }})
{%- endmacro %}

{#- Apply `body` (an expression in `variable`) to each element of a list. -#}
{% macro list_map(list_expr, variable, body) %}
    {{ return(adapter.dispatch('list_map', 'dicom_lake')(list_expr, variable, body)) }}
{% endmacro %}

{% macro default__list_map(list_expr, variable, body) -%}
    list_transform({{ list_expr }}, lambda {{ variable }}: {{ body }})
{%- endmacro %}

{% macro spark__list_map(list_expr, variable, body) -%}
    transform({{ list_expr }}, {{ variable }} -> {{ body }})
{%- endmacro %}

{#- The number of elements of a list for which `condition` (an expression in `variable`) holds. -#}
{% macro list_count_where(list_expr, variable, condition) %}
    {{ return(adapter.dispatch('list_count_where', 'dicom_lake')(list_expr, variable, condition)) }}
{% endmacro %}

{% macro default__list_count_where(list_expr, variable, condition) -%}
    coalesce(len(list_filter({{ list_expr }}, lambda {{ variable }}: {{ condition }})), 0)
{%- endmacro %}

{% macro spark__list_count_where(list_expr, variable, condition) -%}
    coalesce(array_size(filter({{ list_expr }}, {{ variable }} -> {{ condition }})), 0)
{%- endmacro %}

{#- The elements of a list for which `condition` (an expression in `variable`) holds. -#}
{% macro list_where(list_expr, variable, condition) %}
    {{ return(adapter.dispatch('list_where', 'dicom_lake')(list_expr, variable, condition)) }}
{% endmacro %}

{% macro default__list_where(list_expr, variable, condition) -%}
    list_filter({{ list_expr }}, lambda {{ variable }}: {{ condition }})
{%- endmacro %}

{% macro spark__list_where(list_expr, variable, condition) -%}
    filter({{ list_expr }}, {{ variable }} -> {{ condition }})
{%- endmacro %}

{#- The sum of a list of integers, 0 for an empty list. -#}
{% macro list_total(list_expr) %}
    {{ return(adapter.dispatch('list_total', 'dicom_lake')(list_expr)) }}
{% endmacro %}

{% macro default__list_total(list_expr) -%}
    coalesce(list_sum({{ list_expr }}), 0)
{%- endmacro %}

{% macro spark__list_total(list_expr) -%}
    aggregate({{ list_expr }}, cast(0 as bigint), (total, x) -> total + x)
{%- endmacro %}

{#- The first `count` elements of a list. -#}
{% macro list_head(list_expr, count) %}
    {{ return(adapter.dispatch('list_head', 'dicom_lake')(list_expr, count)) }}
{% endmacro %}

{% macro default__list_head(list_expr, count) -%}
    list_slice({{ list_expr }}, 1, {{ count }})
{%- endmacro %}

{% macro spark__list_head(list_expr, count) -%}
    slice({{ list_expr }}, 1, {{ count }})
{%- endmacro %}

{#- The distinct non-null values of an aggregated column as a sorted list. -#}
{% macro sorted_distinct_list(column) %}
    {{ return(adapter.dispatch('sorted_distinct_list', 'dicom_lake')(column)) }}
{% endmacro %}

{% macro default__sorted_distinct_list(column) -%}
    list_sort(list_distinct(list({{ column }})))
{%- endmacro %}

{% macro spark__sorted_distinct_list(column) -%}
    array_sort(array_distinct(collect_list({{ column }})))
{%- endmacro %}

{#- An empty list of text, typed. -#}
{% macro empty_text_list() %}
    {{ return(adapter.dispatch('empty_text_list', 'dicom_lake')()) }}
{% endmacro %}

{% macro default__empty_text_list() -%}
    cast([] as varchar [])
{%- endmacro %}

{% macro spark__empty_text_list() -%}
    cast(array() as array<string>)
{%- endmacro %}
