-- The UIDs inside an instance's metadata should be the ones the feed names it by. Warns only:
-- the marts key on the feed's UIDs, and dicom_value_errors lists each disagreement or missing UID
-- with the reason (error_type uid_mismatch / uid_missing).
{{ config(severity='warn') }}

select
    {{ instance_key() }},
    keyword,
    reason
from {{ ref('dicom_value_errors') }}
where error_type in ('uid_missing', 'uid_mismatch')
