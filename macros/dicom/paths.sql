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
