{#-
    Incremental models take in only what changed since their last build, by load: staging
    numbers each build that stages rows (load_id), and every incremental model records, after
    it is built, the highest load it has taken in (dicom_lake_load_watermarks, one row per
    model, written in the model's own transaction). A model that failed or was skipped keeps
    its watermark and catches up on its next build. The watermark is kept with a fingerprint of
    the model's code and of the tag seeds: when either changes, the model takes in every row
    again (a changed macro needs `dbt build --full-refresh`).
-#}
{% macro load_watermarks() -%}
    {{ target.schema }}.dicom_lake_load_watermarks
{%- endmacro %}

{#- on-run-start: the watermark table exists before any model reads it. -#}
{% macro create_load_watermarks() -%}
    create table if not exists {{ load_watermarks() }} (
        model_name varchar primary key,
        load_id bigint not null,
        fingerprint varchar not null
    )
{%- endmacro %}

{#- What the rows of the model being built depend on besides the feed: its code and the seeds. -#}
{% macro model_fingerprint() -%}
    {{ return(local_md5(model.raw_code ~ tojson(dicom_projected_tags()))) }}
{%- endmacro %}

{#-
    The highest load the model being built has taken in, read while it is compiled (a literal,
    so DuckDB can skip the row groups of older loads); 0 when it must take in every row: a first
    build, a full refresh, another fingerprint.
-#}
{% macro load_watermark() -%}
    {#- unit tests have no target relation (`this`): they take in every row they are given -#}
    {%- if not execute or this is none or not is_incremental() -%}
        {{ return(0) }}
    {%- endif -%}
    {%- set table = load_watermarks().split('.') -%}
    {%- if adapter.get_relation(database=this.database, schema=table[0], identifier=table[1]) is none -%}
        {{ return(0) }}
    {%- endif -%}
    {%- set query -%}
        select load_id from {{ load_watermarks() }}
        where model_name = '{{ this.identifier }}' and fingerprint = '{{ model_fingerprint() }}'
    {%- endset -%}
    {%- set rows = run_query(query).rows -%}
    {{ return(rows[0][0] if rows | length > 0 else 0) }}
{%- endmacro %}

{#-
    SQL condition: the row's load is newer than the watermark of the model being built (always
    true when the model takes in every row: rows staged before load_id existed have none).
-#}
{% macro loaded_since_watermark() -%}
    {%- set watermark = load_watermark() -%}
    {%- if watermark == 0 -%}
        true
    {%- else -%}
        load_id > {{ watermark }}
    {%- endif -%}
{%- endmacro %}

{#- True when the model being built takes in every row. -#}
{% macro takes_all_rows() -%}
    {{ return(load_watermark() == 0) }}
{%- endmacro %}

{#- post-hook of every incremental model: it has now taken in every staged load. -#}
{% macro record_load_watermark() -%}
    insert or replace into {{ load_watermarks() }} (model_name, load_id, fingerprint)
    select '{{ this.identifier }}', coalesce(max(staged.load_id), 0), '{{ model_fingerprint() }}'
    from {{ ref('stg_changefeed__events') }} as staged
{%- endmacro %}

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
    {{ rows_among(keys, groups_changed_since_watermark(keys)) }}
{%- endmacro %}

{#-
    pre-hook of an incremental model: delete the target's rows whose `keys` appear in the
    `changed` query (the groups this build recomputes, gone ones included), so the build can
    append their new rows. Every row when the model takes in every row.
-#}
{% macro delete_changed_rows(keys, changed) -%}
    {%- if is_incremental() -%}
        delete from {{ this }} where {{ rows_among(keys, changed) }}
    {%- endif -%}
{%- endmacro %}

{#-
    The instances with events staged since the watermark of the model being built: their key,
    distinct. For the models that read staging directly (int_instance_events_ordered,
    int_instances_current).
-#}
{% macro instances_staged_since_watermark() -%}
    select distinct {{ instance_key() }}
    from {{ ref('stg_changefeed__events') }}
    where {{ loaded_since_watermark() }} and {{ feed_event_is_usable() }}
{%- endmacro %}

{#-
    The instances whose current state changed since the watermark of the model being built
    (int_instances_current carries the load that last changed each instance), gone ones included.
-#}
{% macro instances_changed_since_watermark() -%}
    select {{ instance_key() }}
    from {{ ref('int_instances_current') }}
    where {{ loaded_since_watermark() }}
{%- endmacro %}

{#- The groups (series, studies: their `keys`) holding an instance that changed. -#}
{% macro groups_changed_since_watermark(keys) -%}
    select distinct {{ keys | join(', ') }}
    from ({{ instances_changed_since_watermark() }}) as changed_instances
{%- endmacro %}

{#- pre-hooks: the instances that changed; the instances, or the events, staged since. -#}
{% macro delete_changed_instances() -%}
    {{ delete_changed_rows(instance_key_columns(), instances_changed_since_watermark()) }}
{%- endmacro %}

{% macro delete_staged_instances() -%}
    {{ delete_changed_rows(instance_key_columns(), instances_staged_since_watermark()) }}
{%- endmacro %}

{% macro delete_staged_events() -%}
    {{ delete_changed_rows(['sequence'], events_staged_since_watermark()) }}
{%- endmacro %}

{#- pre-hook of a roll-up (series, study): delete the groups holding an instance that changed. -#}
{% macro delete_changed_groups(keys) -%}
    {{ delete_changed_rows(keys, groups_changed_since_watermark(keys)) }}
{%- endmacro %}

{#- The events staged since the watermark of the model being built, for per-event models. -#}
{% macro events_staged_since_watermark() -%}
    select * from {{ ref('stg_changefeed__events') }}
    where {{ loaded_since_watermark() }}
{%- endmacro %}

{#-
    The staged documents (sequence, metadata) of the instances in the relation `instances`, by
    their metadata_sequence: a semi join on the sequence, so the text is never hashed.
-#}
{% macro documents_of(instances) -%}
    select
        staged.sequence,
        staged.metadata
    from {{ ref('stg_changefeed__events') }} as staged
    where staged.sequence in (select {{ instances }}.metadata_sequence from {{ instances }})
{%- endmacro %}
