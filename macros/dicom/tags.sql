{#-
    The projected attributes, read from the `dicom_tags` seed joined to the `dicom_dictionary`
    seed (for VR and VM) while the calling model runs. Adding a seed row adds a column on the
    next build. Returns a list of dicts: tag, keyword, level, column_name, vr, vm, name,
    pn_extra_components (list of 'ideographic' / 'phonetic').
    Models calling this get their dependency on both seeds from the ref() calls below. Under the
    `lint` target (sqlfluff, no warehouse) it reads the seed CSV files (run from the repo root).
-#}
{% macro dicom_projected_tags(levels=none) %}
    {%- set tags_relation = ref('dicom_tags') -%}
    {%- set dictionary_relation = ref('dicom_dictionary') -%}
    {%- if not execute -%}
        {{ return([]) }}
    {%- endif -%}
    {%- if target.name == 'lint' -%}
        {#- sqlfluff compiles without a warehouse: read the seed files themselves -#}
        {%- set tags_relation = "read_csv('seeds/dicom_tags.csv', all_varchar = true)" -%}
        {%- set dictionary_relation = "read_csv('seeds/dicom_dictionary.csv', all_varchar = true)" -%}
    {%- elif load_relation(tags_relation) is none or load_relation(dictionary_relation) is none -%}
        {{ exceptions.raise_compiler_error(
            "the seeds dicom_tags and dicom_dictionary are not loaded: run `dbt seed` "
            ~ "(or `dbt build`, which seeds first)"
        ) }}
    {%- endif -%}
    {%- set query -%}
        select
            upper(tags.tag) as tag,
            tags.keyword,
            lower(tags.level) as level,
            tags.column_name,
            dictionary.vr,
            dictionary.vm,
            dictionary.name,
            coalesce(tags.pn_extra_components, '') as pn_extra_components
        from {{ tags_relation }} as tags
        left join {{ dictionary_relation }} as dictionary
            on upper(tags.tag) = dictionary.tag
        order by
            case lower(tags.level)
                when 'patient' then 1
                when 'study' then 2
                when 'series' then 3
                else 4
            end,
            upper(tags.tag)
    {%- endset -%}
    {%- set result = [] -%}
    {%- for row in run_query(query).rows -%}
        {%- if levels is none or row['level'] in levels -%}
            {%- set extras = [] -%}
            {%- for part in (row['pn_extra_components'] or '').split(';') -%}
                {%- if part | trim | lower in ['ideographic', 'phonetic'] -%}
                    {%- do extras.append(part | trim | lower) -%}
                {%- endif -%}
            {%- endfor -%}
            {%- do result.append({
                'tag': row['tag'],
                'keyword': row['keyword'],
                'level': row['level'],
                'column_name': row['column_name'],
                'vr': row['vr'] or 'UN',
                'vm': row['vm'] or '1',
                'name': row['name'],
                'pn_extra_components': extras,
            }) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(result) }}
{% endmacro %}

{#-
    The typed output columns of the projected tags: one per tag, plus `<column>_ideographic` /
    `<column>_phonetic` for PN tags whose seed row asks. Each is a dict: name, expression
    (typed, from `<relation_alias>.<raw column>`; null when the declared VR column holds a VR
    the dictionary does not allow), tag. Columns named in `exclude` are skipped
    (e.g. the key UIDs, which come from the feed).
-#}
{% macro dicom_projected_columns(tags, relation_alias, exclude=[]) %}
    {%- set columns = [] -%}
    {%- for tag in tags if tag['column_name'] not in exclude -%}
        {%- set raw = relation_alias ~ '.' ~ adapter.quote(dicom_raw_column(tag)) -%}
        {%- set declared = relation_alias ~ '.' ~ adapter.quote(dicom_declared_vr_column(tag)) -%}
        {%- do columns.append({
            'name': tag['column_name'],
            'expression': dicom_value(raw, tag['vr'], tag['vm'], 'Alphabetic', declared),
            'tag': tag,
        }) -%}
        {%- for component in tag['pn_extra_components'] if dicom_vr_family(tag['vr']) == 'person_name' -%}
            {%- do columns.append({
                'name': tag['column_name'] ~ '_' ~ component,
                'expression': dicom_value(raw, tag['vr'], tag['vm'], component | capitalize, declared),
                'tag': tag,
            }) -%}
        {%- endfor -%}
    {%- endfor -%}
    {{ return(columns) }}
{% endmacro %}

{#-
    The instance key attributes, checked against the feed entry whatever the seed holds:
    dicts like dicom_projected_tags() returns, in seed order, with the feed column they key.
-#}
{% macro dicom_key_tags() %}
    {%- set keys = [] -%}
    {%- for tag, keyword, column in [
        ('0020000D', 'StudyInstanceUID', 'study_instance_uid'),
        ('0020000E', 'SeriesInstanceUID', 'series_instance_uid'),
        ('00080018', 'SOPInstanceUID', 'sop_instance_uid'),
    ] -%}
        {%- do keys.append({
            'tag': tag, 'keyword': keyword, 'level': 'instance', 'column_name': column,
            'vr': 'UI', 'vm': '1', 'name': keyword, 'pn_extra_components': [],
        }) -%}
    {%- endfor -%}
    {{ return(keys) }}
{% endmacro %}

{#-
    The attributes int_instance_tag_values extracts: every projected tag, plus the key UIDs
    (dicom_key_tags) when the seed does not list them.
-#}
{% macro dicom_extracted_tags() %}
    {%- set tags = dicom_projected_tags() -%}
    {%- set listed = tags | map(attribute='tag') | list -%}
    {%- set result = tags[:] -%}
    {%- for key in dicom_key_tags() if key['tag'] not in listed -%}
        {%- do result.append(key) -%}
    {%- endfor -%}
    {{ return(result) }}
{% endmacro %}

{#- The name of the column holding the VR a tag declares in int_instance_tag_values. -#}
{% macro dicom_declared_vr_column(tag) -%}
    declared_vr_{{ tag['column_name'] }}
{%- endmacro %}

{#- The name of the column holding a tag's raw JSON Value array in int_instance_tag_values. -#}
{% macro dicom_raw_column(tag) -%}
    raw_{{ tag['column_name'] }}
{%- endmacro %}

{#- The DICOM keyword in snake_case: SOPInstanceUID -> sop_instance_uid. -#}
{% macro dicom_keyword_to_snake_case(keyword) %}
    {{ return(adapter.dispatch('dicom_keyword_to_snake_case', 'dicom_lake')(keyword)) }}
{% endmacro %}

{% macro default__dicom_keyword_to_snake_case(keyword) -%}
    lower(regexp_replace(
        regexp_replace({{ keyword }}, '([A-Z]+)([A-Z][a-z])', '\1_\2', 'g'),
        '([a-z0-9])([A-Z])', '\1_\2', 'g'
    ))
{%- endmacro %}

{#- Spark replaces every match, and refers to a group as $1. -#}
{% macro spark__dicom_keyword_to_snake_case(keyword) -%}
    lower(regexp_replace(
        regexp_replace({{ keyword }}, '([A-Z]+)([A-Z][a-z])', '$1_$2'),
        '([a-z0-9])([A-Z])', '$1_$2'
    ))
{%- endmacro %}
