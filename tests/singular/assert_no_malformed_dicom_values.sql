-- Counts the malformed attribute values (listed in dicom_value_errors with a reason): they are
-- null in the marts. Key UID disagreements are counted by assert_metadata_uids_match_feed. Warns
-- and never fails the build.
{{ config(severity='warn') }}

select * from {{ ref('dicom_value_errors') }}
where error_type not in ('uid_missing', 'uid_mismatch')
