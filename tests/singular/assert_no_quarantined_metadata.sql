-- Counts the change-feed events whose metadata is not a JSON object (listed in
-- metadata_quarantine). Warns, never fails the build.
{{ config(severity='warn') }}

select * from {{ ref('metadata_quarantine') }}
