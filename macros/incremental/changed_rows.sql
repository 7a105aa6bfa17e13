{#-
    What an incremental build recomputes: the instances, groups and events that changed since
    the model's last load (model_loads.sql), the pre-hooks that delete their old rows, and the
    semi joins that select them.
-#}

{#-
    SQL condition: the row's `keys` are among those of the `changed` query (a semi join; true
    when the model takes in every row).
-#}
{% macro rows_among(keys, changed) -%}
    {%- if takes_all_rows() -%}
        true
    {%- else -%}
        ({{ keys | join(', ') }}) in (select {{ keys | join(', ') }} from ({{ changed }}) as changed)
    {%- endif -%}
{%- endmacro %}

{#- The row's instance is among those of the `changed` query. -#}
{% macro instance_among(changed) -%}
    {{ rows_among(instance_key_columns(), changed) }}
{%- endmacro %}

{#- The row's group (series, study: its `keys`) holds an instance that changed. -#}
{% macro group_changed(keys) -%}
    {{ rows_among(keys, groups_changed_since_last_build(keys)) }}
{%- endmacro %}

{#-
    pre-hook of an incremental model: delete the target's rows whose `keys` appear in the
    `changed` query (the groups this build recomputes, gone ones included), so the build can
    append their new rows. Every row when the model takes in every row.
-#}
{% macro delete_changed_rows(keys, changed) -%}
    {%- if is_incremental() -%}
        {{ adapter.dispatch('delete_changed_rows', 'dicom_lake')(keys, changed) }}
    {%- endif -%}
{%- endmacro %}

{% macro default__delete_changed_rows(keys, changed) -%}
    delete from {{ this }} where {{ rows_among(keys, changed) }}
{%- endmacro %}

{#- Delta refuses a subquery in DELETE: a MERGE that deletes what it matches does the same. -#}
{% macro spark__delete_changed_rows(keys, changed) -%}
    {%- if takes_all_rows() -%}
        delete from {{ this }}
    {%- else -%}
        merge into {{ this }} as target
        using (select distinct {{ keys | join(', ') }} from ({{ changed }}) as changed) as changed
            on {{ columns_match('target', 'changed', keys) }}
        when matched then delete
    {%- endif -%}
{%- endmacro %}

{#-
    The instances with events staged since the last build of the model being built: their key,
    distinct. For the models that read staging directly (int_instance_events_ordered,
    int_instances_current).
-#}
{% macro instances_staged_since_last_build() -%}
    select distinct {{ instance_key() }}
    from {{ ref('stg_landing__changefeed') }}
    where {{ loaded_since_last_build() }} and {{ feed_event_is_usable() }}
{%- endmacro %}

{#-
    The instances whose current state changed since the last build of the model being built
    (int_instances_current carries the load that last changed each instance), gone ones included.
-#}
{% macro instances_changed_since_last_build() -%}
    select {{ instance_key() }}
    from {{ ref('int_instances_current') }}
    where {{ loaded_since_last_build() }}
{%- endmacro %}

{#- The groups (series, studies: their `keys`) holding an instance that changed. -#}
{% macro groups_changed_since_last_build(keys) -%}
    select distinct {{ keys | join(', ') }}
    from ({{ instances_changed_since_last_build() }}) as changed_instances
{%- endmacro %}

{#- pre-hooks: the instances that changed; the instances, or the events, staged since. -#}
{% macro delete_changed_instances() -%}
    {{ delete_changed_rows(instance_key_columns(), instances_changed_since_last_build()) }}
{%- endmacro %}

{% macro delete_staged_instances() -%}
    {{ delete_changed_rows(instance_key_columns(), instances_staged_since_last_build()) }}
{%- endmacro %}

{% macro delete_staged_events() -%}
    {{ delete_changed_rows(['sequence'], events_staged_since_last_build()) }}
{%- endmacro %}

{#- pre-hook of a roll-up (series, study): delete the groups holding an instance that changed. -#}
{% macro delete_changed_groups(keys) -%}
    {{ delete_changed_rows(keys, groups_changed_since_last_build(keys)) }}
{%- endmacro %}

{#- The events staged since the last build of the model being built, for per-event models. -#}
{% macro events_staged_since_last_build() -%}
    select * from {{ ref('stg_landing__changefeed') }}
    where {{ loaded_since_last_build() }}
{%- endmacro %}

{#-
    The staged documents (sequence, metadata), to be joined on an instance's metadata_sequence.
    Without a privacy policy, staging keeps no text: each document is read from its landed file
    (landed_file, landed_row; the sequence too, whose range lets DuckDB skip the files and row
    groups that cannot match). Rows staged before staging kept the landed row hold their text.
    Under a policy, the staged text is the protected one and the only one read.
    DuckDB hashes the side of a join it estimates smaller, counting a text as a few bytes
    whatever its length: here the staged rows, past which the landed documents stream. Unfiltered,
    the documents are estimated the larger side of the next join too and stream past a hash table
    of the instances: int_instance_tag_values, whose join keeps few columns, reads them so. With
    `instances`, only the documents of those instances' metadata_sequence (a semi join): the
    instance mart's wide rows make DuckDB hash the documents anyway, and the filter keeps an
    incremental build from hashing every staged document.
-#}
{% macro staged_documents(instances=none) -%}
    {%- set texts_staged = privacy_policy() is not none -%}
    select
        staged.sequence,
        {% if texts_staged -%}
        staged.metadata
        {%- else -%}
        coalesce(staged.metadata, landed.metadata)
        {%- endif %} as metadata
    from {{ ref('stg_landing__changefeed') }} as staged
    {%- if not texts_staged %}
    left join {{ source('landing', 'changefeed') }} as landed
        on
            landed.sequence = staged.sequence
            and {{ landed_file_name('landed.filename') }} = staged.landed_file
            and landed.file_row_number = staged.landed_row
    {%- endif %}
    {%- if instances %}
    where staged.sequence in (select {{ instances }}.metadata_sequence from {{ instances }})
    {%- endif %}
{%- endmacro %}

{#-
    The incremental strategy of staging, which replaces a staged event by a newer copy of it
    (unique_key sequence): dbt-duckdb's delete+insert; dbt-spark has none, and merges (Delta).
-#}
{% macro replacing_strategy() %}
    {{ return(adapter.dispatch('replacing_strategy', 'dicom_lake')()) }}
{% endmacro %}

{% macro default__replacing_strategy() -%}
    {{ return('delete+insert') }}
{%- endmacro %}

{% macro spark__replacing_strategy() -%}
    {{ return('merge') }}
{%- endmacro %}
