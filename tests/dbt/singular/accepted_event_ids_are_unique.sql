{#
  Deduplication across the whole history: one accepted row per event_id, ever. In the freshness
  sensor's runs, the event_ids accepted in the days the run was started for, each against every
  accepted row of the history (macro tested_rows_condition): a repeat of an old event_id among the new
  rows still fails, without grouping every accepted row at every run.
#}
{#- ref and macros outside the branch, so that the parse does not depend on the run vars -#}
{%- set classified = ref('int_usage_events_classified') %}
{%- set recent_rows = tested_rows_condition('recent.ingested_at') %}
select
    event_id,
    count(*) as accepted_rows
from {{ classified }}
where
    event_status = 'accepted'
    {%- if tested_rows_are_scoped() %}
    and event_id in (
        select recent.event_id
        from {{ classified }} as recent
        where recent.event_status = 'accepted' and {{ recent_rows }}
    )
    {%- endif %}
group by event_id
having count(*) > 1
