{#-
    Where a DICOM JSON (PS3.18 Annex F) document keeps an attribute's Value array and declared VR:
    the JSON paths the projection reads, all in one call per document.
-#}

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
    path of each tag (element i is tag i's Value, element n + i its declared VR), then the Value
    and VR paths of the lower-case spelling of each tag holding a letter, in the order of
    dicom_lowercase_tags (writers that lower-case their keys: "0020000d").
-#}
{% macro dicom_value_and_vr_paths(tags) %}
    {%- set paths = dicom_value_paths(tags) -%}
    {%- for tag in tags -%}
        {%- do paths.append(dicom_vr_path(tag['tag'])) -%}
    {%- endfor -%}
    {%- for tag in dicom_lowercase_tags(tags) -%}
        {%- do paths.append(dicom_value_path(tag['tag']) | replace(tag['tag'] | upper, tag['tag'] | lower)) -%}
        {%- do paths.append(dicom_vr_path(tag['tag']) | replace(tag['tag'] | upper, tag['tag'] | lower)) -%}
    {%- endfor -%}
    {{ return(paths) }}
{% endmacro %}

{#- The tags whose lower-case spelling differs from the upper-case one (they hold A to F). -#}
{% macro dicom_lowercase_tags(tags) %}
    {%- set lettered = [] -%}
    {%- for tag in tags if (tag['tag'] | lower) != (tag['tag'] | upper) -%}
        {%- do lettered.append(tag) -%}
    {%- endfor -%}
    {{ return(lettered) }}
{% endmacro %}

{#-
    Element i of the one-call extraction (dicom_value_and_vr_paths) for tag i, upper case first,
    else its lower-case spelling: `kind` is 'value' or 'vr'.
-#}
{% macro dicom_extracted(values, tags, index, kind) -%}
    {%- set count = tags | length -%}
    {%- set upper = index if kind == 'value' else count + index -%}
    {%- set lettered = dicom_lowercase_tags(tags) | map(attribute='tag') | list -%}
    {%- set tag = tags[index - 1]['tag'] -%}
    {%- if tag in lettered -%}
        {%- set lower = 2 * count + 2 * lettered.index(tag) + (1 if kind == 'value' else 2) -%}
        coalesce({{ list_element(values, upper) }}, {{ list_element(values, lower) }})
    {%- else -%}
        {{ list_element(values, upper) }}
    {%- endif -%}
{%- endmacro %}

{#- The Value paths of a list of projected tags, in order. -#}
{% macro dicom_value_paths(tags) %}
    {%- set paths = [] -%}
    {%- for tag in tags -%}
        {%- do paths.append(dicom_value_path(tag['tag'])) -%}
    {%- endfor -%}
    {{ return(paths) }}
{% endmacro %}
