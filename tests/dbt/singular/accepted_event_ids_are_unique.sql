{# Deduplication across the whole history: one accepted row per event_id, ever. #}
select
    event_id,
    count(*) as accepted_rows
from {{ ref('int_usage_events_classified') }}
where event_status = 'accepted'
group by event_id
having count(*) > 1
