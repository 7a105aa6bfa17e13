{#-
    Why a value is null once typed: counting and classifying the values of an attribute that are
    present but cannot be typed (wrong JSON type, unparsable, a declared VR the dictionary does not
    allow), for dicom_value_errors and its warning test.
-#}

{#- The elements of a Value array that count: all of them, or only the first when VM is 1. -#}
{% macro dicom_counted_elements(value_array, vm) -%}
    {%- if (vm | string | trim) != '1' -%}{{ json_array_elements(value_array) }}
    {%- else -%}{{ list_head(json_array_elements(value_array), 1) }}
    {%- endif -%}
{%- endmacro %}

{#-
    How many values of a Value array are of the wrong JSON type for the VR: a PN value that is
    not an object; an object, array or boolean for any other VR (strings and numbers are read).
    Only the first counts when VM is 1.
-#}
{% macro dicom_wrong_type_count(value_array, vr, vm) -%}
    {%- if dicom_vr_family(vr) == 'person_name' -%}
        {%- set condition = "coalesce(" ~ json_kind('e') ~ ", 'NULL') not in ('OBJECT', 'NULL')" -%}
    {%- else -%}
        {%- set condition = json_kind('e') ~ " in ('OBJECT', 'ARRAY', 'BOOLEAN')" -%}
    {%- endif -%}
    {{ list_count_where(dicom_counted_elements(value_array, vm), 'e', condition) }}
{%- endmacro %}

{#-
    How many values of a Value array are strings or numbers that do not parse for the VR (a
    2023-02-30 date, "abc" in an IS). Text VRs take any string: 0.
-#}
{% macro dicom_unparsable_count(value_array, vr, vm) -%}
    {%- set multi = (vm | string | trim) != '1' -%}
    {%- if dicom_vr_family(vr) in ['text', 'unsupported', 'person_name'] -%}
        0
    {%- else -%}
        {{ list_count_where(
            list_head(json_array_texts(value_array), 1) if not multi
            else json_array_texts(value_array),
            'v',
            "v is not null and (" ~ dicom_typed('v', vr) ~ ") is null"
        ) }}
    {%- endif -%}
{%- endmacro %}

{#-
    How many values of the attribute are present in the JSON but null once typed (only the first
    counts when VM is 1): a Value that is not an array counts as one; with `declared_vr`, a VR
    the dictionary does not allow nulls every present value.
-#}
{% macro dicom_value_error_count(value_array, vr, vm, declared_vr=none) -%}
    case
        when {{ value_array }} is null then 0
        when {{ json_kind(value_array) }} != 'ARRAY' then 1
    {%- if declared_vr is not none %}
        when not {{ dicom_vr_matches(declared_vr, vr) }}
            then {{ list_count_where(
                dicom_counted_elements(value_array, vm), 'e',
                "coalesce(" ~ json_kind('e') ~ ", 'NULL') != 'NULL'"
            ) }}
    {%- endif %}
        else {{ dicom_wrong_type_count(value_array, vr, vm) }}
        + {{ dicom_unparsable_count(value_array, vr, vm) }}
    end
{%- endmacro %}

{#-
    Why an attribute's values are null once typed, as a code: vr_mismatch, value_not_an_array,
    wrong_json_type, unparsable_value; null when nothing is wrong. The first that applies wins.
-#}
{% macro dicom_value_error_type(value_array, vr, vm, declared_vr) -%}
    case
        when {{ value_array }} is null then null
        when not {{ dicom_vr_matches(declared_vr, vr) }} then 'vr_mismatch'
        when {{ json_kind(value_array) }} != 'ARRAY' then 'value_not_an_array'
        when {{ dicom_wrong_type_count(value_array, vr, vm) }} > 0 then 'wrong_json_type'
        when {{ dicom_unparsable_count(value_array, vr, vm) }} > 0 then 'unparsable_value'
    end
{%- endmacro %}

{#- The sentence for a dicom_value_error_type code, for people reading dicom_value_errors. -#}
{% macro dicom_value_error_reason(error_type, vr, declared_vr, value_array) -%}
    {%- set family = dicom_vr_family(vr) -%}
    {%- set wrong_type = 'a value is not a JSON object, as VR PN requires' if family == 'person_name'
        else 'a value is a JSON object, array or boolean; VR ' ~ vr ~ ' takes strings or numbers' -%}
    case {{ error_type }}
        when 'vr_mismatch'
            then 'declared VR ' || {{ declared_vr }}
            || ' is not the dictionary VR {{ vr }}: the value is not typed'
        when 'value_not_an_array'
            then 'Value is a JSON ' || case {{ json_kind(value_array) }}
                when 'VARCHAR' then 'string'
                when 'OBJECT' then 'object'
                when 'BOOLEAN' then 'boolean'
                else 'number'
            end || ', not an array'
        when 'wrong_json_type'
            then '{{ wrong_type }}'
        when 'unparsable_value'
            then 'a value is not a valid {{ vr }} ({{ family }})'
    end
{%- endmacro %}

{#-
    The columns of a dicom_value_errors row that say where the value is: the instance key, the
    tag (tag, keyword, column_name, dictionary vr), the declared VR and the raw Value array as
    text, read from the int_instance_tag_values columns of `relation_alias` (the declared VR
    and the Value array from `declared_vr` and `value_array` when given: the failing item's,
    for a tag taking every item).
-#}
{% macro dicom_value_error_subject(tag, relation_alias, declared_vr=none, value_array=none) -%}
    {%- set prefix = relation_alias ~ '.' -%}
    {{ instance_key(relation_alias) }},
    '{{ tag["tag"] }}' as tag,
    '{{ tag["keyword"] }}' as keyword,
    '{{ tag["column_name"] }}' as column_name,
    '{{ tag["vr"] }}' as vr,
    {{ declared_vr or prefix ~ adapter.quote(dicom_declared_vr_column(tag)) }} as declared_vr,
    {{ json_render(value_array or prefix ~ adapter.quote(dicom_raw_column(tag))) }} as raw_value
{%- endmacro %}

{#-
    For a tag taking every item of its sequences, over `items` (its attribute objects, from
    json_items_leaves): how many values of all the items cannot be typed (`count`), and the first
    item's attribute object holding one (`failing_item`), each item typed by the VR it declares.
-#}
{% macro dicom_items_value_errors(tag, items) %}
    {%- set value = json_get('leaf', 'Value') -%}
    {%- set declared = json_text(json_get('leaf', 'vr')) -%}
    {{ return({
        'count': list_total(list_map(
            items, 'leaf', dicom_value_error_count(value, tag['vr'], tag['vm'], declared)
        )),
        'failing_item': list_element(list_where(
            items, 'leaf',
            dicom_value_error_type(value, tag['vr'], tag['vm'], declared) ~ ' is not null'
        ), 1),
    }) }}
{% endmacro %}
