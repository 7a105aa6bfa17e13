{#-
    JSON primitives. Every model reaches JSON through these macros, so another engine (e.g. Spark:
    get_json_object / from_json) only needs its own `<adapter>__` implementations here; the models
    stay as they are. `default__` is DuckDB.
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

{#-
    Every value of a DICOM JSON Value array as one text, as DICOM writes multiple values: joined
    by a backslash ('CT\MR'). A person name is its Alphabetic component; any other object (a
    sequence item) is its JSON text. Null when the array is absent or empty.
-#}
{% macro json_array_joined_text(json_array) %}
    {{ return(adapter.dispatch('json_array_joined_text', 'dicom_lake')(json_array)) }}
{% endmacro %}

{% macro default__json_array_joined_text(json_array) -%}
    {%- set texts = list_map(
        json_array_elements(json_array), 'v', "coalesce(v ->> 'Alphabetic', v ->> '$')"
    ) -%}
    nullif(array_to_string({{ texts }}, '\'), '')
{%- endmacro %}

{#-
    A DICOM JSON document as a map of tag to {vr, Value}, each value as text: a person name or a
    sequence item as its JSON text; null Value for bulk data and inline binary (the shape of the
    ADF template's `metadata` column).
-#}
{% macro json_dicom_map(json_text) %}
    {{ return(adapter.dispatch('json_dicom_map', 'dicom_lake')(json_text)) }}
{% endmacro %}

{% macro default__json_dicom_map(json_text) -%}
    map_from_entries({{ list_map(
        "map_entries(json_transform(" ~ json_text
        ~ ", '\"MAP(VARCHAR, STRUCT(vr VARCHAR, \\\"Value\\\" JSON[]))\"'))",
        'e',
        "struct_pack(key := e.key, value := struct_pack(vr := e.value.vr, \"Value\" := "
        ~ list_map('e.value."Value"', 'v', "v ->> '$'") ~ "))"
    ) }})
{%- endmacro %}

{#- Any value as JSON text: a list, map or struct as JSON. -#}
{% macro json_render(value) %}
    {{ return(adapter.dispatch('json_render', 'dicom_lake')(value)) }}
{% endmacro %}

{% macro default__json_render(value) -%}
    cast(to_json({{ value }}) as varchar)
{%- endmacro %}
