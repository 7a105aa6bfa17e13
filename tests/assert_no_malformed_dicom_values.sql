-- Counts the malformed attribute values (listed in dicom_value_errors). They are null in the
-- marts; this warns and never fails the build.
{{ config(severity='warn') }}

select * from {{ ref('dicom_value_errors') }}
