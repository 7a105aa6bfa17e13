-- Every projected attribute value of an existing instance that is present in the metadata but
-- malformed for its VR (a 2023-02-30 date, "abc" in an IS): the typed column holds null.

{%- set tags = dicom_projected_tags() %}

with

tag_values as (

    select * from {{ ref('int_instance_tag_values') }}

),

{% for tag in tags %}
{%- set raw = 'tag_values.' ~ adapter.quote(dicom_raw_column(tag)) %}
{{ dicom_raw_column(tag) }}_errors as (

    select
        tag_values.partition_name,
        tag_values.study_instance_uid,
        tag_values.series_instance_uid,
        tag_values.sop_instance_uid,
        '{{ tag["tag"] }}' as tag,
        '{{ tag["keyword"] }}' as keyword,
        '{{ tag["column_name"] }}' as column_name,
        '{{ tag["vr"] }}' as vr,
        cast({{ raw }} as varchar) as raw_value,
        {{ dicom_value_error_count(raw, tag['vr'], tag['vm']) }} as malformed_value_count
    from tag_values
    where {{ raw }} is not null

),

{% endfor %}
all_errors as (

    {% for tag in tags %}
        select * from {{ dicom_raw_column(tag) }}_errors
        where malformed_value_count > 0
        {% if not loop.last %}union all{% endif %}
    {% else %}
        select
            cast(null as varchar) as partition_name,
            cast(null as varchar) as study_instance_uid,
            cast(null as varchar) as series_instance_uid,
            cast(null as varchar) as sop_instance_uid,
            cast(null as varchar) as tag,
            cast(null as varchar) as keyword,
            cast(null as varchar) as column_name,
            cast(null as varchar) as vr,
            cast(null as varchar) as raw_value,
            cast(null as bigint) as malformed_value_count
        where false
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
        raw_value,
        cast(malformed_value_count as bigint) as malformed_value_count
    from all_errors

)

select * from final
