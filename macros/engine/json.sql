{#-
    JSON primitives. Every model reaches JSON through these macros, so each engine has its own
    implementations here and the models stay as they are. `default__` is DuckDB, where a JSON
    fragment is JSON text; `spark__` is Spark SQL (4.0+), where a fragment is a VARIANT: the
    document is parsed once (try_parse_json) and its fragments are navigated without parsing
    again. Both give the same kinds (json_kind's names are DuckDB's) and the same texts.
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

{#- try_parse_json refuses a document that repeats a key, which DuckDB's json_valid accepts. -#}
{% macro spark__json_object_error(json_text) -%}
    case
        when {{ json_text }} is null then null
        when try_parse_json({{ json_text }}) is null then 'invalid JSON'
        when not {{ json_text }} rlike '^[ \\t\\n\\r]*[{]' then 'JSON is not an object'
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

{#- The lambda binds the parsed document once, so every path reads the same parse. -#}
{% macro spark__json_extract_paths(json_text, paths) -%}
    try_element_at(transform(array(try_parse_json({{ json_text }})), document -> array(
        {%- for path in paths %}
        variant_get(document, '{{ spark_variant_path(path) }}'){{ "," if not loop.last }}
        {%- endfor %}
    )), 1)
{%- endmacro %}

{#- A JSON path as DuckDB writes it ($."0020000D".Value) for variant_get ($["0020000D"].Value). -#}
{% macro spark_variant_path(path) -%}
    {{ path | replace('."', '["') | replace('".', '"].') }}
{%- endmacro %}

{#- The kind of a JSON fragment: OBJECT, ARRAY, VARCHAR, BIGINT, DOUBLE, BOOLEAN, NULL. -#}
{% macro json_kind(json_fragment) %}
    {{ return(adapter.dispatch('json_kind', 'dicom_lake')(json_fragment)) }}
{% endmacro %}

{% macro default__json_kind(json_fragment) -%}
    json_type({{ json_fragment }})
{%- endmacro %}

{% macro spark__json_kind(json_fragment) -%}
    case regexp_extract(schema_of_variant({{ json_fragment }}), '^[A-Z]+', 0)
        when 'OBJECT' then 'OBJECT'
        when 'ARRAY' then 'ARRAY'
        when 'STRING' then 'VARCHAR'
        when 'BOOLEAN' then 'BOOLEAN'
        when 'VOID' then 'NULL'
        when 'DECIMAL' then 'DOUBLE'
        when 'DOUBLE' then 'DOUBLE'
        when 'FLOAT' then 'DOUBLE'
        else 'BIGINT'
    end
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

{% macro spark__json_array_first_text(json_array) -%}
    case
        when {{ json_kind("try_variant_get(" ~ json_array ~ ", '$[0]', 'variant')") }}
            in ('VARCHAR', 'BIGINT', 'DOUBLE')
            then try_variant_get({{ json_array }}, '$[0]', 'string')
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

{% macro spark__json_array_texts(json_array) -%}
    {{ list_map(
        json_array_elements(json_array),
        'e',
        "case when " ~ json_kind('e') ~ " in ('VARCHAR', 'BIGINT', 'DOUBLE') "
        ~ "then " ~ json_text('e') ~ " end"
    ) }}
{%- endmacro %}

{#- A JSON string fragment as text ('"DA"' -> DA); numbers as their text. -#}
{% macro json_text(json_fragment) %}
    {{ return(adapter.dispatch('json_text', 'dicom_lake')(json_fragment)) }}
{% endmacro %}

{% macro default__json_text(json_fragment) -%}
    ({{ json_fragment }} ->> '$')
{%- endmacro %}

{% macro spark__json_text(json_fragment) -%}
    try_variant_get({{ json_fragment }}, '$', 'string')
{%- endmacro %}

{#- All elements of a JSON array as a list of JSON fragments. -#}
{% macro json_array_elements(json_array) %}
    {{ return(adapter.dispatch('json_array_elements', 'dicom_lake')(json_array)) }}
{% endmacro %}

{% macro default__json_array_elements(json_array) -%}
    from_json({{ json_array }}, '["JSON"]')
{%- endmacro %}

{% macro spark__json_array_elements(json_array) -%}
    try_variant_get({{ json_array }}, '$', 'array<variant>')
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

{% macro spark__json_array_first_pn(json_array, component) -%}
    nullif(try_variant_get({{ json_array }}, '$[0].{{ component }}', 'string'), '')
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

{% macro spark__json_array_pns(json_array, component) -%}
    {{ list_map(
        json_array_elements(json_array),
        'pn',
        "nullif(try_variant_get(pn, '$." ~ component ~ "', 'string'), '')"
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

{#- A backslash is written twice in a Spark SQL string. -#}
{% macro spark__json_array_joined_text(json_array) -%}
    {%- set texts = list_map(
        json_array_elements(json_array), 'v',
        "coalesce(try_variant_get(v, '$.Alphabetic', 'string'), " ~ json_text('v') ~ ")"
    ) -%}
    nullif(array_join({{ texts }}, '\\'), '')
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

{#- Spark's map keeps its keys sorted (DICOM JSON documents list tags in order anyway). -#}
{% macro spark__json_dicom_map(document) -%}
    transform_values(
        try_variant_get(
            try_parse_json({{ document }}), '$', 'map<string, struct<vr: string, Value: array<variant>>>'
        ),
        (tag, attribute) -> named_struct(
            'vr', attribute.vr,
            'Value', {{ list_map('attribute.Value', 'v', json_text('v')) }}
        )
    )
{%- endmacro %}

{#- Any value as JSON text: a list, map or struct as JSON. -#}
{% macro json_render(value) %}
    {{ return(adapter.dispatch('json_render', 'dicom_lake')(value)) }}
{% endmacro %}

{% macro default__json_render(value) -%}
    cast(to_json({{ value }}) as varchar)
{%- endmacro %}

{% macro spark__json_render(value) -%}
    to_json({{ value }})
{%- endmacro %}

{#- The fragment under one key of a JSON object fragment (null when absent). -#}
{% macro json_get(json_fragment, key) %}
    {{ return(adapter.dispatch('json_get', 'dicom_lake')(json_fragment, key)) }}
{% endmacro %}

{% macro default__json_get(json_fragment, key) -%}
    ({{ json_fragment }} -> '$."{{ key }}"')
{%- endmacro %}

{% macro spark__json_get(json_fragment, key) -%}
    try_variant_get({{ json_fragment }}, '$["{{ key }}"]', 'variant')
{%- endmacro %}

{#-
    Through every item of a DICOM JSON sequence: `items` is a Value array of items (objects),
    `keys` the keys after it, every one but the last a sequence whose items are walked too.
    Returns the list of the last key's fragments, in document order (items without it give
    nothing). DuckDB reads the fragment once with a wildcard path.
-#}
{% macro json_items_leaves(items, keys) %}
    {{ return(adapter.dispatch('json_items_leaves', 'dicom_lake')(items, keys)) }}
{% endmacro %}

{% macro default__json_items_leaves(items, keys) -%}
    json_extract({{ items }}, '$[*]{% for key in keys %}."{{ key }}"{{ ".Value[*]" if not loop.last }}{% endfor %}')
{%- endmacro %}

{% macro spark__json_items_leaves(items, keys) -%}
    {%- set level = namespace(items="try_variant_get(" ~ items ~ ", '$', 'array<variant>')") -%}
    {%- for key in keys[:-1] -%}
        {%- set level.items = "flatten(" ~ list_map(
            level.items,
            'i' ~ loop.index,
            "coalesce(try_variant_get(i" ~ loop.index ~ ", '$[\"" ~ key
            ~ "\"].Value', 'array<variant>'), cast(array() as array<variant>))"
        ) ~ ")" -%}
    {%- endfor -%}
    filter(
        {{ list_map(level.items, 'leaf_item', "try_variant_get(leaf_item, '$[\"" ~ keys[-1] ~ "\"]', 'variant')") }},
        leaf -> leaf is not null
    )
{%- endmacro %}

{#-
    A DICOM JSON document with the keys of one private block renamed to `<group>xx<element>#<index>`,
    so one fixed path reads a private attribute wherever its block lies. The block is the one
    whose private creator element (<group>0010 to <group>00FF) holds `creator` (DICOM pads it
    with trailing spaces); the first such element in the text wins. A text scan, not a second
    parse: the document is still parsed once, by the call that reads it. `json_text` is the text
    to rename in (the document, or it with other blocks renamed already); the block is looked
    for in `original`, the document: renaming a block never touches a creator element (block 00),
    so chaining renames keeps the SQL linear in the number of blocks.
-#}
{% macro json_private_block_renamed(json_text, original, group, creator, index) %}
    {{ return(adapter.dispatch('json_private_block_renamed', 'dicom_lake')(json_text, original, group, creator, index)) }}
{% endmacro %}

{#- The regular expression of a group's keys, any case: 7FD1 -> 7[Ff][Dd]1. -#}
{% macro json_private_group_pattern(group) -%}
    {%- for character in group | upper -%}
        {%- if character in 'ABCDEF' -%}[{{ character }}{{ character | lower }}]{%- else -%}{{ character }}{%- endif -%}
    {%- endfor -%}
{%- endmacro %}

{#- The regular expression finding a creator's block number (group 1) in a document's text. -#}
{% macro json_private_creator_pattern(group, creator) -%}
    {%- set escaped = namespace(text='') -%}
    {%- for character in creator | trim -%}
        {%- set escaped.text = escaped.text ~ ('\\' if character in '\\.^$|?*+()[]{}' else '') ~ character -%}
    {%- endfor -%}
    "{{ json_private_group_pattern(group) }}00([1-9A-Fa-f][0-9A-Fa-f])"\s*:\s*\{[^{}]*"Value"\s*:\s*\[\s*"{{ escaped.text }} *"
{%- endmacro %}

{% macro default__json_private_block_renamed(json_text, original, group, creator, index) -%}
    {%- set block = "regexp_extract(" ~ original ~ ", '"
        ~ json_private_creator_pattern(group, creator) | replace("'", "''") ~ "', 1)" -%}
    regexp_replace(
        {{ json_text }},
        '"{{ json_private_group_pattern(group) }}' || {{ block }} || '([0-9A-Fa-f]{2})"(\s*:)',
        '"{{ group | upper }}xx\1#{{ index }}"\2',
        'g'
    )
{%- endmacro %}

{#- Spark SQL strings take a backslash written twice, and a replacement names a group $1. -#}
{% macro spark__json_private_block_renamed(json_text, original, group, creator, index) -%}
    {%- set block = "regexp_extract(" ~ original ~ ", '"
        ~ json_private_creator_pattern(group, creator) | replace('\\', '\\\\') | replace("'", "\\'")
        ~ "', 1)" -%}
    regexp_replace(
        {{ json_text }},
        '"{{ json_private_group_pattern(group) }}' || {{ block }} || '([0-9A-Fa-f]{2})"(\\s*:)',
        '"{{ group | upper }}xx$1#{{ index }}"$2'
    )
{%- endmacro %}
