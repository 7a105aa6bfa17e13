{#-
    The landed change feed as a relation (the `landing` source): DuckDB reads the Parquet files
    where they are (the source's external_location); Spark reads them through a view, recreated
    when every build starts (on-run-start) so that files landed with new columns show them. Both
    name each row by its file and position in it (filename, file_row_number).
-#}
{% macro create_landing_view() %}
    {{ return(adapter.dispatch('create_landing_view', 'dicom_lake')()) }}
{% endmacro %}

{% macro default__create_landing_view() -%}
{%- endmacro %}

{#- `parquet.<path>` skips hidden files, so a file still being written (.name.tmp) is not read. -#}
{% macro spark__create_landing_view() -%}
    {%- set files = (env_var('DICOM_LAKE_DIR', 'lake') ~ '/landing/changefeed') | replace('`', '``') -%}
    create or replace view {{ target.schema }}.landing_changefeed as
    select
        *,
        _metadata.file_path as filename,
        _metadata.row_index as file_row_number
    from parquet.`{{ files }}`
{%- endmacro %}

{#-
    A landed file's name without its folder: what staging keeps of a row's file, so that a lake
    moved elsewhere still finds its documents.
-#}
{% macro landed_file_name(path) %}
    {{ return(adapter.dispatch('landed_file_name', 'dicom_lake')(path)) }}
{% endmacro %}

{% macro default__landed_file_name(path) -%}
    parse_filename({{ path }})
{%- endmacro %}

{% macro spark__landed_file_name(path) -%}
    regexp_extract({{ path }}, '[^/]*$', 0)
{%- endmacro %}
