-- The UIDs inside an instance's metadata should be the ones the feed names it by. Warns only:
-- the marts key on the feed's UIDs.
{{ config(severity='warn') }}

{%- set tags = dicom_projected_tags() %}
{%- set names = tags | map(attribute='column_name') | list %}
{%- set keys = ['study_instance_uid', 'series_instance_uid', 'sop_instance_uid'] %}

select
    partition_name,
    study_instance_uid,
    series_instance_uid,
    sop_instance_uid
from {{ ref('int_instance_tag_values') }}
where
    false
    {%- for key in keys if key in names %}
    or {{ json_array_first_text(adapter.quote('raw_' ~ key)) }} != {{ key }}
    {%- endfor %}
