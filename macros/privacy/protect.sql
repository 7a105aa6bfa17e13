{#-
    The privacy policy (docs/privacy.md) as the staging model applies it: the rules of the
    `dicom_privacy` seed, then, when the `privacy_profile` var is `basic`, those of the
    `dicom_privacy_profile` seed, as the JSON the SQL functions of extractor/privacy/functions.py
    take. None when the policy keeps everything: the models then call no function at all.
    The key is read by the functions from the environment, never passed in SQL.
-#}
{% macro privacy_policy() %}
    {%- set site_relation = ref('dicom_privacy') -%}
    {%- set profile_relation = ref('dicom_privacy_profile') -%}
    {%- if not execute or target.name == 'lint' -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set rows = [] -%}
    {%- set site_query = 'select attribute, private_creator, action from ' ~ site_relation -%}
    {%- for row in run_query(site_query).rows -%}
        {%- do rows.append({
            'attribute': row['attribute'], 'private_creator': row['private_creator'],
            'action': row['action']}) -%}
    {%- endfor -%}
    {%- if var('privacy_profile', 'none') | lower == 'basic' -%}
        {%- for row in run_query('select attribute, action from ' ~ profile_relation).rows -%}
            {%- do rows.append({'attribute': row['attribute'], 'action': row['action'], 'profile': true}) -%}
        {%- endfor -%}
    {%- endif -%}
    {{ return(tojson(rows) if rows else none) }}
{% endmacro %}

{#-
    A landed column, as text, with the policy applied. `kind` is 'document' (metadata), 'path'
    (file_path) or a UID's tag (the study, series and instance UID columns). Rows the landing
    zone protected already (`landed_protection`, their protected_with column, is set:
    extractor/landing/) are taken as they are.
-#}
{% macro protected_column(landed_column, kind, policy, landed_protection) -%}
    {%- set column = 'cast(' ~ landed_column ~ ' as string)' -%}
    {%- if policy is none -%}
        {{ column }}
    {%- elif not var('privacy_functions', true) -%}
        {#- no SQL functions on this engine (Fabric): the landing zone must have protected every row -#}
        {%- if landed_protection is none -%}
            {{ exceptions.raise_compiler_error(
                "privacy_functions is false, so every landed row must be protected when landing, "
                ~ "but no landed file has the protected_with column: extract with "
                ~ "--protect-at-landing (docs/privacy.md)") }}
        {%- endif -%}
        case when {{ landed_protection }} is null then {{ sql_error(
            'a landed row was not protected when landing, and privacy_functions is false: '
            ~ 'extract with --protect-at-landing (docs/privacy.md)') }} else {{ column }} end
    {%- else -%}
        {%- if kind == 'document' -%}
            {%- set applied = privacy_function_call('dicom_lake_protected_document', [column], policy) -%}
        {%- elif kind == 'path' -%}
            {%- set applied = privacy_function_call('dicom_lake_protected_path', [column], policy) -%}
        {%- else -%}
            {%- set applied = privacy_function_call(
                'dicom_lake_protected_uid', [column, "'" ~ kind ~ "'"], policy) -%}
        {%- endif -%}
        {%- if landed_protection is none -%}
            {{ applied }}
        {%- else -%}
            case when {{ landed_protection }} is null then {{ applied }} else {{ column }} end
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}

{#-
    Whether the landing zone's files have the `protected_with` column (files landed before it
    existed do not, and a column no file has cannot be read): asked only when a policy applies.
-#}
{% macro landed_files_record_protection() %}
    {%- set probe = run_query('select * from ' ~ source('landing', 'changefeed') ~ ' limit 0') -%}
    {{ return('protected_with' in probe.column_names) }}
{% endmacro %}

{#-
    A call of one of the policy's SQL functions. DuckDB's take the policy as their last argument;
    Spark's have it bound when they are registered (extractor/privacy/functions.py), since an
    argument would travel to the Python workers with every row.
-#}
{% macro privacy_function_call(function, arguments, policy) %}
    {{ return(adapter.dispatch('privacy_function_call', 'dicom_lake')(function, arguments, policy)) }}
{% endmacro %}

{% macro default__privacy_function_call(function, arguments, policy) -%}
    {{ function }}({{ (arguments + [string_literal(policy)]) | join(', ') }})
{%- endmacro %}

{% macro spark__privacy_function_call(function, arguments, policy) -%}
    {{ function }}({{ arguments | join(', ') }})
{%- endmacro %}
