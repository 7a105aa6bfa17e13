-- Cross-check of the server's read-time state against the decision taken from actions: an
-- instance that exists should not have its last event reported Deleted, and a deleted one should
-- not report Current. The state may lag the latest events, so this only warns.
{{ config(severity='warn') }}

select
    {{ instance_key() }},
    last_action,
    last_feed_state
from {{ ref('int_instances_current') }}
where
    (is_present and lower(last_feed_state) = 'deleted')
    or (not is_present and lower(last_feed_state) = 'current')
