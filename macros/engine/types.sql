{#-
    SQL types and text primitives whose spelling differs between engines: `default__` is DuckDB,
    `spark__` Spark SQL. The models and the other macros name types through these (and use
    `string`, `bigint`, `double`, `boolean` and `date`, which both engines spell alike).
-#}

{#- An instant (the feed's and the extractor's times): DuckDB's timestamptz; on Spark a timestamp,
    read in the session's UTC zone (profiles.example.yml). -#}
{% macro type_instant() %}
    {{ return(adapter.dispatch('type_instant', 'dicom_lake')()) }}
{% endmacro %}

{% macro default__type_instant() -%}
    timestamptz
{%- endmacro %}

{% macro spark__type_instant() -%}
    timestamp
{%- endmacro %}

{#- A local date and time without a zone (DICOM DT). -#}
{% macro type_local_datetime() %}
    {{ return(adapter.dispatch('type_local_datetime', 'dicom_lake')()) }}
{% endmacro %}

{% macro default__type_local_datetime() -%}
    timestamp
{%- endmacro %}

{% macro spark__type_local_datetime() -%}
    timestamp_ntz
{%- endmacro %}

{#-
    True when the whole of `value` matches the regular expression `pattern` (null when `value`
    is null). Spark's rlike finds a match anywhere, and its `$` also matches before a final line
    break: the pattern is anchored with ^ and \z there.
-#}
{% macro matches_fully(value, pattern) %}
    {{ return(adapter.dispatch('matches_fully', 'dicom_lake')(value, pattern)) }}
{% endmacro %}

{% macro default__matches_fully(value, pattern) -%}
    regexp_full_match({{ value }}, '{{ pattern }}')
{%- endmacro %}

{% macro spark__matches_fully(value, pattern) -%}
    ({{ value }} rlike '^(?:{{ pattern }})\\z')
{%- endmacro %}

{#-
    A 64-bit hash of a text, to compare copies of a document without comparing their text. The
    engines' hashes differ (DuckDB's hash, Spark's xxhash64): it only orders copies of one event.
-#}
{% macro text_hash(value) %}
    {{ return(adapter.dispatch('text_hash', 'dicom_lake')(value)) }}
{% endmacro %}

{% macro default__text_hash(value) -%}
    hash({{ value }})
{%- endmacro %}

{% macro spark__text_hash(value) -%}
    xxhash64({{ value }})
{%- endmacro %}

{#- A struct of named fields, from a dict of field name to expression (in its order). -#}
{% macro make_struct(fields) %}
    {{ return(adapter.dispatch('make_struct', 'dicom_lake')(fields)) }}
{% endmacro %}

{% macro default__make_struct(fields) -%}
    struct_pack(
        {%- for name, expression in fields.items() %}
        {{ name }} := {{ expression }}{{ "," if not loop.last }}
        {%- endfor %}
    )
{%- endmacro %}

{% macro spark__make_struct(fields) -%}
    named_struct(
        {%- for name, expression in fields.items() %}
        '{{ name }}', {{ expression }}{{ "," if not loop.last }}
        {%- endfor %}
    )
{%- endmacro %}

{#- The value of `value` in the row where `ordering` is highest, per group (an aggregate). -#}
{% macro value_at_max(value, ordering) %}
    {{ return(adapter.dispatch('value_at_max', 'dicom_lake')(value, ordering)) }}
{% endmacro %}

{% macro default__value_at_max(value, ordering) -%}
    arg_max({{ value }}, {{ ordering }})
{%- endmacro %}

{% macro spark__value_at_max(value, ordering) -%}
    max_by({{ value }}, {{ ordering }})
{%- endmacro %}
