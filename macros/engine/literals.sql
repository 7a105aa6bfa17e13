{#- A text as an SQL string literal: DuckDB doubles quotes; Spark reads backslash escapes, and
    would join 'a''b' into ab. -#}
{% macro string_literal(text) %}
    {{ return(adapter.dispatch('string_literal', 'dicom_lake')(text)) }}
{% endmacro %}

{% macro default__string_literal(text) -%}
    '{{ text | string | replace("'", "''") }}'
{%- endmacro %}

{% macro spark__string_literal(text) -%}
    '{{ text | string | replace('\\', '\\\\') | replace("'", "\\'") }}'
{%- endmacro %}

{#- Stops the query with a message when evaluated (a row that must not pass). -#}
{% macro sql_error(message) %}
    {{ return(adapter.dispatch('sql_error', 'dicom_lake')(message)) }}
{% endmacro %}

{% macro default__sql_error(message) -%}
    error({{ default__string_literal(message) }})
{%- endmacro %}

{% macro spark__sql_error(message) -%}
    cast(raise_error({{ spark__string_literal(message) }}) as string)
{%- endmacro %}
