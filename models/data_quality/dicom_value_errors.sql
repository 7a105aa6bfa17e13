-- Every attribute value of an existing instance that the marts could not use, with the reason:
-- a projected value present in the metadata but of a VR other than the dictionary's, not an
-- array, of the wrong JSON type or malformed for its VR (the typed column holds null), and a key
-- UID missing from the metadata or disagreeing with the feed entry (the entry's UID is the key).
-- Incremental: a build re-checks the instances whose current state changed since its last build.

{%- set tags = dicom_extracted_tags() %}
{%- set key_tags = dicom_key_tags() %}

{{
    config(
        pre_hook="{{ delete_changed_instances() }}",
    )
}}

with

tag_values as (

    -- the values of the changed instances: extracted by this build or since this model's last
    select * from {{ ref('int_instance_tag_values') }}
    where {{ loaded_since_last_build() }}

),

{% for tag in tags %}
{%- set raw = 'tag_values.' ~ adapter.quote(dicom_raw_column(tag)) %}
{%- if tag['items'] == 'all' %}
{%- set checks = dicom_items_value_errors(tag, 'items') %}
{{ dicom_raw_column(tag) }}_items as (

    -- each item declares its own VR: the items' attribute objects, walked once
    select
        tag_values.*,
        {{ json_items_leaves(raw, tag['steps'][1:]) }} as items
    from tag_values
    where {{ raw }} is not null

),

{{ dicom_raw_column(tag) }}_counted as (

    select
        *,
        {{ checks['count'] }} as malformed_value_count
    from {{ dicom_raw_column(tag) }}_items

),

{{ dicom_raw_column(tag) }}_failing as (

    -- the values of all items count; the first failing item is the one the reason describes,
    -- looked for only where one fails
    select
        *,
        case when malformed_value_count > 0 then {{ checks['failing_item'] }} end as failing_item
    from {{ dicom_raw_column(tag) }}_counted

),

{%- set source = dicom_raw_column(tag) ~ '_failing' %}
{%- set value_array = json_get('failing_item', 'Value') %}
{%- set declared = json_text(json_get('failing_item', 'vr')) %}
{%- set count = 'malformed_value_count' %}
{%- else %}
{%- set source = 'tag_values' %}
{%- set value_array = raw %}
{%- set declared = 'tag_values.' ~ adapter.quote(dicom_declared_vr_column(tag)) %}
{%- set count = dicom_value_error_count(raw, tag['vr'], tag['vm'], declared) %}
{%- endif %}
{{ dicom_raw_column(tag) }}_checked as (

    select
        {{ dicom_value_error_subject(tag, source, declared, value_array) }},
        {{ count }} as malformed_value_count,
        {{ dicom_value_error_type(value_array, tag['vr'], tag['vm'], declared) }} as error_type,
        {{ value_array }} as value_array
    from {{ source }}
    where {{ source }}.{{ adapter.quote(dicom_raw_column(tag)) }} is not null

),

{{ dicom_raw_column(tag) }}_errors as (

    select
        {{ instance_key() }},
        tag,
        keyword,
        column_name,
        vr,
        declared_vr,
        raw_value,
        malformed_value_count,
        error_type,
        {{ dicom_value_error_reason('error_type', tag['vr'], 'declared_vr', 'value_array') }} as reason
    from {{ dicom_raw_column(tag) }}_checked
    where error_type is not null

),

{% endfor %}
typing_errors as (

    {% for tag in tags %}
    select * from {{ dicom_raw_column(tag) }}_errors
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

{% for tag in key_tags %}
{%- set raw = 'tag_values.' ~ adapter.quote(dicom_raw_column(tag)) %}
{%- set in_metadata = json_array_first_text(raw) %}
{{ tag['column_name'] }}_disagreements as (

    select
        {{ dicom_value_error_subject(tag, 'tag_values') }},
        case when {{ raw }} is null then 0 else 1 end as malformed_value_count,
        case
            when {{ raw }} is null then 'uid_missing'
            else 'uid_mismatch'
        end as error_type,
        case
            when {{ raw }} is null
                then
                    '{{ tag["keyword"] }} is missing from the metadata: the feed entry''s '
                    || tag_values.{{ tag['column_name'] }} || ' is the key'
            else
                '{{ tag["keyword"] }} in the metadata is '
                || coalesce({{ in_metadata }}, 'not a UID string')
                || ', the feed entry says ' || tag_values.{{ tag['column_name'] }}
                || ': the entry''s UID is the key'
        end as reason
    from tag_values
    where {{ raw }} is null or ({{ in_metadata }}) is distinct from tag_values.{{ tag['column_name'] }}

),

{% endfor %}
all_errors as (

    select * from typing_errors
    {% for tag in key_tags %}
    union all
    select * from {{ tag['column_name'] }}_disagreements
    {% endfor %}

),

final as (

    select
        partition_name,
        study_instance_uid,
        series_instance_uid,
        sop_instance_uid,
        tag,
        keyword,
        column_name,
        vr,
        cast(declared_vr as string) as declared_vr,
        raw_value,
        cast(malformed_value_count as bigint) as malformed_value_count,
        cast(error_type as string) as error_type,
        cast(reason as string) as reason
    from all_errors

)

select * from final
