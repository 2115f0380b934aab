{#
  Deduplication across the whole history: one accepted row per event_id, ever. In the freshness
  sensor's runs, the event_ids accepted in the days the run was started for, each against every
  accepted row of the history (macro tested_rows_condition): a repeat of an old event_id among the new
  rows still fails, without grouping every accepted row at every run.
#}
select
    event_id,
    count(*) as accepted_rows
from {{ ref('int_usage_events_classified') }}
where
    event_status = 'accepted'
    {%- if tested_rows_are_scoped() %}
    and event_id in (
        select recent.event_id
        from {{ ref('int_usage_events_classified') }} as recent
        where recent.event_status = 'accepted' and {{ tested_rows_condition('recent.ingested_at') }}
    )
    {%- endif %}
group by event_id
having count(*) > 1
