-- Counts the change-feed events the models ignore (unknown action, a key missing; listed in
-- feed_anomalies). Warns, never fails the build.
{{ config(severity='warn') }}

select * from {{ ref('feed_anomalies') }}
