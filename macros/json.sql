{#-
    JSON and list primitives. Every model reaches JSON and lists through these macros, so another
    engine (e.g. Spark: get_json_object / from_json / transform / filter) only needs its own
    `<adapter>__` implementations here; the models stay as they are. `default__` is DuckDB.
-#}

{#- The reason a metadata document cannot be used, or null when it is usable (or absent). -#}
{% macro json_object_error(json_text) %}
    {{ return(adapter.dispatch('json_object_error', 'dicom_lake')(json_text)) }}
{% endmacro %}

{#-
    One parse per document: json_valid, then a valid document is an object exactly when its
    first character after JSON white space is '{' (a regular expression anchored at the start).
-#}
{% macro default__json_object_error(json_text) -%}
    case
        when {{ json_text }} is null then null
        when not json_valid({{ json_text }}) then 'invalid JSON'
        when not regexp_matches({{ json_text }}, '^[ \t\n\r]*[{]') then 'JSON is not an object'
    end
{%- endmacro %}

{#- Extract many paths from one document in one parse: returns a list of JSON fragments. -#}
{% macro json_extract_paths(json_text, paths) %}
    {{ return(adapter.dispatch('json_extract_paths', 'dicom_lake')(json_text, paths)) }}
{% endmacro %}

{% macro default__json_extract_paths(json_text, paths) -%}
    json_extract({{ json_text }}, [
        {%- for path in paths %}
        '{{ path }}'{{ "," if not loop.last }}
        {%- endfor %}
    ])
{%- endmacro %}

{#- The JSON path of the Value array of a DICOM JSON attribute (tag = 8 hex digits). -#}
{% macro dicom_value_path(tag) -%}
    $."{{ tag | upper }}".Value
{%- endmacro %}

{#- The JSON path of the declared VR of a DICOM JSON attribute. -#}
{% macro dicom_vr_path(tag) -%}
    $."{{ tag | upper }}".vr
{%- endmacro %}

{#-
    The paths a document is read with, in one call: the Value path of each tag, then the VR
    path of each tag (element i is tag i's Value, element n + i its declared VR).
-#}
{% macro dicom_value_and_vr_paths(tags) %}
    {%- set paths = dicom_value_paths(tags) -%}
    {%- for tag in tags -%}
        {%- do paths.append(dicom_vr_path(tag['tag'])) -%}
    {%- endfor -%}
    {{ return(paths) }}
{% endmacro %}

{#- The Value paths of a list of projected tags, in order. -#}
{% macro dicom_value_paths(tags) %}
    {%- set paths = [] -%}
    {%- for tag in tags -%}
        {%- do paths.append(dicom_value_path(tag['tag'])) -%}
    {%- endfor -%}
    {{ return(paths) }}
{% endmacro %}

{#- Element `index` (1-based) of a list. -#}
{% macro list_element(list_expr, index) %}
    {{ return(adapter.dispatch('list_element', 'dicom_lake')(list_expr, index)) }}
{% endmacro %}

{% macro default__list_element(list_expr, index) -%}
    ({{ list_expr }})[{{ index }}]
{%- endmacro %}

{#- The kind of a JSON fragment: OBJECT, ARRAY, VARCHAR, BIGINT, DOUBLE, BOOLEAN, NULL. -#}
{% macro json_kind(json_fragment) %}
    {{ return(adapter.dispatch('json_kind', 'dicom_lake')(json_fragment)) }}
{% endmacro %}

{% macro default__json_kind(json_fragment) -%}
    json_type({{ json_fragment }})
{%- endmacro %}

{#-
    First element of a JSON array as text (numbers as their text), null when absent or when it
    is not a string or a number (an object, array or boolean is of the wrong JSON type).
-#}
{% macro json_array_first_text(json_array) %}
    {{ return(adapter.dispatch('json_array_first_text', 'dicom_lake')(json_array)) }}
{% endmacro %}

{% macro default__json_array_first_text(json_array) -%}
    case
        when json_type({{ json_array }}, '$[0]') in ('VARCHAR', 'BIGINT', 'UBIGINT', 'DOUBLE')
            then {{ json_array }} ->> '$[0]'
    end
{%- endmacro %}

{#-
    All elements of a JSON array as a list of text (numbers as their text); an element that is
    not a string or a number is null in the list; null when the fragment is not an array.
-#}
{% macro json_array_texts(json_array) %}
    {{ return(adapter.dispatch('json_array_texts', 'dicom_lake')(json_array)) }}
{% endmacro %}

{% macro default__json_array_texts(json_array) -%}
    {{ list_map(
        json_array_elements(json_array),
        'e',
        "case when " ~ json_kind('e') ~ " in ('VARCHAR', 'BIGINT', 'UBIGINT', 'DOUBLE') "
        ~ "then e ->> '$' end"
    ) }}
{%- endmacro %}

{#- A JSON string fragment as text ('"DA"' -> DA); numbers as their text. -#}
{% macro json_text(json_fragment) %}
    {{ return(adapter.dispatch('json_text', 'dicom_lake')(json_fragment)) }}
{% endmacro %}

{% macro default__json_text(json_fragment) -%}
    ({{ json_fragment }} ->> '$')
{%- endmacro %}

{#- All elements of a JSON array as a list of JSON fragments. -#}
{% macro json_array_elements(json_array) %}
    {{ return(adapter.dispatch('json_array_elements', 'dicom_lake')(json_array)) }}
{% endmacro %}

{% macro default__json_array_elements(json_array) -%}
    from_json({{ json_array }}, '["JSON"]')
{%- endmacro %}

{#-
    One component (Alphabetic, Ideographic, Phonetic) of the first person name in a PN array;
    an empty component ("=山田^太郎" has an empty Alphabetic one) is null.
-#}
{% macro json_array_first_pn(json_array, component) %}
    {{ return(adapter.dispatch('json_array_first_pn', 'dicom_lake')(json_array, component)) }}
{% endmacro %}

{% macro default__json_array_first_pn(json_array, component) -%}
    nullif(({{ json_array }} -> '$[0]') ->> '{{ component }}', '')
{%- endmacro %}

{#- One component of every person name in a PN array, as a list of text (empty ones null). -#}
{% macro json_array_pns(json_array, component) %}
    {{ return(adapter.dispatch('json_array_pns', 'dicom_lake')(json_array, component)) }}
{% endmacro %}

{% macro default__json_array_pns(json_array, component) -%}
    {{ list_map(
        "from_json(" ~ json_array ~ ", '[{\"" ~ component ~ "\": \"VARCHAR\"}]')",
        'pn',
        "nullif(struct_extract(pn, '" ~ component ~ "'), '')"
    ) }}
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
