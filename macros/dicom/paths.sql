{#-
    Where a DICOM JSON (PS3.18 Annex F) document keeps an attribute's Value array and declared VR:
    the JSON paths the projection reads, all in one call per document.
-#}

{#- The JSON path of the Value array of a top-level DICOM JSON attribute (tag = 8 hex digits). -#}
{% macro dicom_value_path(tag) -%}
    $."{{ tag | upper }}".Value
{%- endmacro %}

{#-
    The JSON path of an attribute object through the first item of each sequence on its way:
    ['00082218', '00080104'] -> $."00082218".Value[0]."00080104".
-#}
{% macro dicom_attribute_path(keys) -%}
    ${% for key in keys %}."{{ key }}"{{ ".Value[0]" if not loop.last }}{% endfor %}
{%- endmacro %}

{#-
    The (group, private creator) pairs of the projected private attributes, in seed order: pair
    i's block is renamed to the keys `<group>xx<element>#<i>` before the document is read
    (json_private_block_renamed), because the block number differs from document to document.
-#}
{% macro dicom_private_blocks(tags) %}
    {%- set blocks = [] -%}
    {%- for tag in tags if tag['private_creator'] is not none -%}
        {%- set block = (tag['steps'][-1][:4], tag['private_creator']) -%}
        {%- if block not in blocks -%}
            {%- do blocks.append(block) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(blocks) }}
{% endmacro %}

{#-
    The spellings of a projected attribute's keys the document is searched for, first found
    wins: upper case, then lower case when it differs (writers that lower-case their keys:
    "0020000d"); a private attribute's renamed key.
-#}
{% macro dicom_key_spellings(tag, tags) %}
    {%- if tag['private_creator'] is not none -%}
        {%- set group, element = tag['steps'][-1][:4], tag['steps'][-1][6:] -%}
        {%- set index = dicom_private_blocks(tags).index((group, tag['private_creator'])) -%}
        {#- the renamed key keeps the element as the document spells it -#}
        {%- set upper = group ~ 'xx' ~ element | upper ~ '#' ~ index -%}
        {%- set lower = group ~ 'xx' ~ element | lower ~ '#' ~ index -%}
        {{ return([[upper]] if upper == lower else [[upper], [lower]]) }}
    {%- endif -%}
    {%- set upper = tag['steps'] | map('upper') | list -%}
    {%- set lower = tag['steps'] | map('lower') | list -%}
    {{ return([upper] if upper == lower else [upper, lower]) }}
{% endmacro %}

{#-
    What the one call per document reads: `paths`, the list of JSON paths, and for tag i of
    `tags`, `slots[i - 1]`: the 1-based positions in that list of its Value (`value`) and of
    its declared VR (`vr`), one per spelling. A tag taking every item of its sequences reads the
    first sequence's Value array (the items) and no VR: each item declares its own.
-#}
{% macro dicom_extraction_plan(tags) %}
    {%- set paths = [] -%}
    {%- set slots = [] -%}
    {%- for tag in tags -%}
        {%- set slot = {'value': [], 'vr': []} -%}
        {%- for keys in dicom_key_spellings(tag, tags) -%}
            {%- if tag['items'] == 'all' and keys | length > 1 -%}
                {%- do paths.append(dicom_attribute_path(keys[:1]) ~ '.Value') -%}
                {%- do slot['value'].append(paths | length) -%}
            {%- else -%}
                {%- do paths.append(dicom_attribute_path(keys) ~ '.Value') -%}
                {%- do slot['value'].append(paths | length) -%}
                {%- do paths.append(dicom_attribute_path(keys) ~ '.vr') -%}
                {%- do slot['vr'].append(paths | length) -%}
            {%- endif -%}
        {%- endfor -%}
        {%- do slots.append(slot) -%}
    {%- endfor -%}
    {{ return({'paths': paths, 'slots': slots}) }}
{% endmacro %}

{#-
    Element `kind` of tag i from the one-call extraction `values` read with `plan`
    (dicom_extraction_plan), the first spelling found: 'value' gives the Value fragment, 'vr' the
    declared VR as text (null for a tag whose items each declare their own).
-#}
{% macro dicom_extracted(values, plan, index, kind) -%}
    {%- set positions = plan['slots'][index - 1][kind] -%}
    {%- set fragments = [] -%}
    {%- for position in positions -%}
        {%- do fragments.append(list_element(values, position)) -%}
    {%- endfor -%}
    {%- set fragment = fragments[0] if fragments | length == 1
        else 'coalesce(' ~ fragments | join(', ') ~ ')' -%}
    {%- if kind == 'value' -%}
        {{ fragment }}
    {%- elif fragments -%}
        {{ json_text(fragment) }}
    {%- else -%}
        cast(null as string)
    {%- endif -%}
{%- endmacro %}
