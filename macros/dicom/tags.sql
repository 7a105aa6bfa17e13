{#-
    The projected attributes, read from the `dicom_tags` seed with their VR and VM (from the
    `dicom_dictionary` seed, or the seed's own `vr` and `vm` for a private attribute) while the
    calling model runs. Adding a seed row adds a column on the next build. Returns a list of
    dicts: tag (the seed's, a path joined by '>' through sequences, `ggggxxee` for a private
    attribute), steps (its tags), items ('first' or 'all': which items of each sequence),
    private_creator (or none), keyword, level, column_name, vr, vm, name, pn_extra_components
    (list of 'ideographic' / 'phonetic').
    Models calling this get their dependency on both seeds from the ref() calls below. Under the
    `lint` target (sqlfluff, no warehouse) it reads the seed CSV files (run from the repo root).
-#}
{% macro dicom_projected_tags(levels=none) %}
    {%- set tags_relation = ref('dicom_tags') -%}
    {%- set dictionary_relation = ref('dicom_dictionary') -%}
    {%- if not execute -%}
        {{ return([]) }}
    {%- endif -%}
    {%- set optional = ['items', 'private_creator', 'vr', 'vm'] -%}
    {%- if target.name == 'lint' -%}
        {#- sqlfluff compiles without a warehouse: read the seed files themselves -#}
        {%- set tags_relation = "read_csv('seeds/dicom_tags.csv', all_varchar = true)" -%}
        {%- set dictionary_relation = "read_csv('seeds/dicom_dictionary.csv', all_varchar = true)" -%}
        {%- set present = optional -%}
    {%- elif load_relation(tags_relation) is none or load_relation(dictionary_relation) is none -%}
        {{ exceptions.raise_compiler_error(
            "the seeds dicom_tags and dicom_dictionary are not loaded: run `dbt seed` "
            ~ "(or `dbt build`, which seeds first)"
        ) }}
    {%- else -%}
        {#- a seed written before paths and private attributes has none of the optional columns -#}
        {%- set present = adapter.get_columns_in_relation(tags_relation) | map(attribute='name')
            | map('lower') | list -%}
    {%- endif -%}
    {%- set query -%}
        select
            tag,
            keyword,
            level,
            column_name,
            pn_extra_components
            {%- for column in optional %},
            {% if column in present %}tags.{{ column }}{% else %}cast(null as string){% endif %} as {{ column }}
            {%- endfor %}
        from {{ tags_relation }} as tags
    {%- endset -%}
    {%- set rows = run_query(query).rows -%}
    {%- set leaves = [] -%}
    {%- for row in rows -%}
        {%- do leaves.append((row['tag'] | upper).split('>')[-1] | trim) -%}
    {%- endfor -%}
    {%- set dictionary = {} -%}
    {%- if leaves -%}
        {%- set lookup -%}
            select tag, vr, vm, name from {{ dictionary_relation }} as dictionary
            where tag in ('{{ leaves | join("', '") }}')
        {%- endset -%}
        {%- for entry in run_query(lookup).rows -%}
            {%- do dictionary.update({entry['tag']: entry}) -%}
        {%- endfor -%}
    {%- endif -%}
    {%- set order = {'patient': 1, 'study': 2, 'series': 3} -%}
    {%- set result = [] -%}
    {%- for row in rows | sort(attribute='tag') -%}
        {%- set level = (row['level'] or '') | trim | lower -%}
        {%- if levels is none or level in levels -%}
            {%- set steps = [] -%}
            {%- for step in (row['tag'] | upper).split('>') -%}
                {%- do steps.append(step | trim | replace('XX', 'xx')) -%}
            {%- endfor -%}
            {%- set entry = dictionary.get(steps[-1], {}) -%}
            {%- set extras = [] -%}
            {%- for part in (row['pn_extra_components'] or '').split(';') -%}
                {%- if part | trim | lower in ['ideographic', 'phonetic'] -%}
                    {%- do extras.append(part | trim | lower) -%}
                {%- endif -%}
            {%- endfor -%}
            {%- do result.append({
                'tag': steps | join('>'),
                'steps': steps,
                'items': 'all' if (row['items'] or '') | trim | lower == 'all' else 'first',
                'private_creator': row['private_creator'] if 'xx' in steps[-1] else none,
                'keyword': (row['keyword'] or '').split('>') | map('trim') | join('>'),
                'level': level,
                'column_name': row['column_name'] | trim,
                'vr': (row['vr'] or entry.get('vr') or 'UN') | trim | upper,
                'vm': (row['vm'] or entry.get('vm') or '1') | trim,
                'name': entry.get('name') or row['keyword'],
                'pn_extra_components': extras,
                'order': order.get(level, 4),
            }) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(result | sort(attribute='order')) }}
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
            'expression': dicom_tag_value(tag, raw, declared, 'Alphabetic'),
            'tag': tag,
        }) -%}
        {%- for component in tag['pn_extra_components'] if dicom_vr_family(tag['vr']) == 'person_name' -%}
            {%- do columns.append({
                'name': tag['column_name'] ~ '_' ~ component,
                'expression': dicom_tag_value(tag, raw, declared, component | capitalize),
                'tag': tag,
            }) -%}
        {%- endfor -%}
    {%- endfor -%}
    {{ return(columns) }}
{% endmacro %}

{#-
    A projected tag's typed value from its int_instance_tag_values columns (`raw`, `declared`):
    dicom_value, or for a tag taking every item of its sequences, the list of each item's value,
    each typed by the VR its item declares.
-#}
{% macro dicom_tag_value(tag, raw, declared, component) -%}
    {%- if tag['items'] == 'all' -%}
        {{ list_map(
            json_items_leaves(raw, tag['steps'][1:]), 'leaf',
            dicom_value(
                json_get('leaf', 'Value'), tag['vr'], tag['vm'], component, json_text(json_get('leaf', 'vr'))
            )
        ) }}
    {%- else -%}
        {{ dicom_value(raw, tag['vr'], tag['vm'], component, declared) }}
    {%- endif -%}
{%- endmacro %}

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
            'steps': [tag], 'items': 'first', 'private_creator': none,
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
