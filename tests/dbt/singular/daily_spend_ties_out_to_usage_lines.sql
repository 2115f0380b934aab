{{ config(severity='warn', meta={'dagster': {'ref': {'name': 'daily_spend'}}}) }}
{#
  Every invoice's days in daily_spend sum to its usage lines exactly, for every pricing model (SPEC
  6.3). A warning, not a block: the invoice itself is right; the daily view of it would be wrong.
#}
with

daily as (

    select invoice_id, metric_id, sum(amount) as daily_amount
    from {{ ref('daily_spend') }}
    group by invoice_id, metric_id

),

lines as (

    select invoice_id, metric_id, sum(amount) as line_amount
    from {{ ref('invoice_lines') }}
    where line_type = 'usage'
    group by invoice_id, metric_id

)

select
    coalesce(lines.invoice_id, daily.invoice_id) as invoice_id,
    coalesce(lines.metric_id, daily.metric_id) as metric_id,
    lines.line_amount,
    daily.daily_amount
from lines
full outer join daily
    on
        lines.invoice_id = daily.invoice_id
        and lines.metric_id = daily.metric_id
where coalesce(lines.line_amount, 0) <> coalesce(daily.daily_amount, 0)
