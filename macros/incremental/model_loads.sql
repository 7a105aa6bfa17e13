{#-
    Incremental models take in only what changed since their last build, by load: staging
    numbers each build that stages rows (load_id), and every incremental model records, after
    it is built, the last load it has taken in (dicom_lake_model_loads, one row per model,
    written in the model's own transaction). A model that failed or was skipped keeps its last
    load and catches up on its next build. The last load is kept with a fingerprint of the
    model's code and of the tag seeds: when either changes, the model takes in every row again
    (a changed macro needs `dbt build --full-refresh`). ("Watermark" is the feed position only.)
-#}
{% macro model_loads() -%}
    {{ target.schema }}.dicom_lake_model_loads
{%- endmacro %}

{#- on-run-start: the model loads table exists before any model reads it. -#}
{% macro create_model_loads() -%}
    {{ adapter.dispatch('create_model_loads', 'dicom_lake')() }}
{%- endmacro %}

{% macro default__create_model_loads() -%}
    create table if not exists {{ model_loads() }} (
        model_name varchar primary key,
        load_id bigint not null,
        fingerprint varchar not null
    )
{%- endmacro %}

{#-
    A Delta table, with no key constraint (record_last_load merges on model_name), partitioned by
    model: models built at the same time each merge into their own partition, which Delta does
    not count as a conflict.
-#}
{% macro spark__create_model_loads() -%}
    create table if not exists {{ model_loads() }} (
        model_name string not null,
        load_id bigint not null,
        fingerprint string not null
    ) using delta
    partitioned by (model_name)
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
{% macro last_load_taken() -%}
    {#- unit tests have no target relation (`this`): they take in every row they are given -#}
    {%- if not execute or this is none or not is_incremental() -%}
        {{ return(0) }}
    {%- endif -%}
    {%- set table = model_loads().split('.') -%}
    {%- if adapter.get_relation(database=this.database, schema=table[0], identifier=table[1]) is none -%}
        {{ return(0) }}
    {%- endif -%}
    {%- set query -%}
        select load_id from {{ model_loads() }}
        where model_name = '{{ this.identifier }}' and fingerprint = '{{ model_fingerprint() }}'
    {%- endset -%}
    {%- set rows = run_query(query).rows -%}
    {{ return(rows[0][0] if rows | length > 0 else 0) }}
{%- endmacro %}

{#-
    SQL condition: the row's load is newer than the last load the model being built took in (always
    true when the model takes in every row: rows staged before load_id existed have none).
-#}
{% macro loaded_since_last_build() -%}
    {%- set last_load = last_load_taken() -%}
    {%- if last_load == 0 -%}
        true
    {%- else -%}
        load_id > {{ last_load }}
    {%- endif -%}
{%- endmacro %}

{#- True when the model being built takes in every row. -#}
{% macro takes_all_rows() -%}
    {{ return(last_load_taken() == 0) }}
{%- endmacro %}

{#- post-hook of every incremental model: it has now taken in every staged load. -#}
{% macro record_last_load() -%}
    {{ adapter.dispatch('record_last_load', 'dicom_lake')() }}
{%- endmacro %}

{#- The model's last load, as a one-row query. -#}
{% macro last_load_row() -%}
    select
        '{{ this.identifier }}' as model_name,
        coalesce(max(staged.load_id), 0) as load_id,
        '{{ model_fingerprint() }}' as fingerprint
    from {{ ref('stg_landing__changefeed') }} as staged
{%- endmacro %}

{% macro default__record_last_load() -%}
    insert or replace into {{ model_loads() }} (model_name, load_id, fingerprint)
    {{ last_load_row() }}
{%- endmacro %}

{#- A commit of its own on Delta, after the model's rows: a failure between the two re-takes the load. -#}
{% macro spark__record_last_load() -%}
    merge into {{ model_loads() }} as loads
    using ({{ last_load_row() }}) as last_load
        on loads.model_name = '{{ this.identifier }}' and loads.model_name = last_load.model_name
    when matched then update set load_id = last_load.load_id, fingerprint = last_load.fingerprint
    when not matched then insert (model_name, load_id, fingerprint)
        values (last_load.model_name, last_load.load_id, last_load.fingerprint)
{%- endmacro %}
