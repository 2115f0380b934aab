{{ config(tags=['usage_and_spend']) }}
{#
  A metric's quantity in a billing period so far, on every day it had accepted usage, over all its
  dimension groups and priced or not: what a usage alert compares with its threshold
  (alert_notifications). count and sum add up the days so far, max keeps the largest value so far,
  unique_count counts the distinct values seen so far (each on the day it was first seen), latest is
  the value of the last event so far (the day's last, by occurred_at then event_id).

  Only what alert_notifications reads: the metrics a usage alert watches on its contract, in the
  periods whose invoice is still a draft (the only periods alerts watch). A period is computed whole,
  from its first day, since crossings are numbered by day within it. A table rebuilt by every run; its
  size follows the usage alerts' contracts and the open periods, not the whole history.
#}
{#- the first day of a watched draft period, so that the warehouse skips older days while reading
    (every day when the periods are not built yet: a `dbt compile` or the linter on an empty warehouse) -#}
{%- set first_watched_day = '1900-01-01' -%}
{%- if execute and load_relation(ref('int_contract_billing_periods')) is not none -%}
    {%- set first_watched_day = query_value_text(
        "select min(period_start) from " ~ ref('int_contract_billing_periods')
        ~ " where invoice_status = 'draft' and contract_id in (select contract_id from "
        ~ ref('stg_seed__usage_alerts') ~ " where alert_type = 'usage')",
        '9999-12-31'
    ) -%}
{%- endif %}
with

watched_metrics as (

    select distinct
        contract_id,
        metric_id
    from {{ ref('stg_seed__usage_alerts') }}
    where alert_type = 'usage'

),

billing_periods as (

    select billing_periods.*
    from {{ ref('int_contract_billing_periods') }} as billing_periods
    where
        billing_periods.invoice_status = 'draft'
        and billing_periods.contract_id in (select watched_metrics.contract_id from watched_metrics)

),

daily_aggregates as (

    select daily.*
    from {{ ref('int_usage_daily_aggregates') }} as daily
    inner join watched_metrics
        on
            daily.contract_id = watched_metrics.contract_id
            and daily.metric_id = watched_metrics.metric_id
    where daily.usage_date >= cast({{ timestamp_literal(first_watched_day) }} as date)

),

period_aggregates as (

    select
        billing_periods.invoice_id,
        daily_aggregates.*
    from daily_aggregates
    inner join billing_periods
        on
            daily_aggregates.contract_id = billing_periods.contract_id
            and cast(daily_aggregates.usage_date as timestamp) >= billing_periods.period_start
            and cast(daily_aggregates.usage_date as timestamp) < billing_periods.period_end

),

metric_days as (

    select
        invoice_id,
        contract_id,
        customer_id,
        metric_id,
        aggregation,
        usage_date,
        sum(event_count) as event_count,
        sum(value_sum) as value_sum,
        max(value_max) as value_max
    from period_aggregates
    group by invoice_id, contract_id, customer_id, metric_id, aggregation, usage_date

),

{# latest: the day's last event over every dimension group #}
day_latest_values as (

    select
        invoice_id,
        metric_id,
        usage_date,
        latest_value,
        row_number() over (
            partition by invoice_id, metric_id, usage_date
            order by latest_occurred_at desc, latest_event_id desc
        ) as recency_rank
    from period_aggregates
    where aggregation = 'latest'

),

{# unique_count: the day each distinct value was first seen in the period, over every dimension group #}
distinct_value_first_days as (

    select
        invoice_id,
        metric_id,
        distinct_value,
        min(usage_date) as first_seen_date
    from period_aggregates
    where aggregation = 'unique_count'
    group by invoice_id, metric_id, distinct_value

),

new_distinct_values as (

    select
        invoice_id,
        metric_id,
        first_seen_date as usage_date,
        count(*) as new_value_count
    from distinct_value_first_days
    group by invoice_id, metric_id, first_seen_date

),

{% set so_far -%}
    partition by metric_days.invoice_id, metric_days.metric_id
    order by metric_days.usage_date
    rows between unbounded preceding and current row
{%- endset %}
running_totals as (

    select
        metric_days.*,
        day_latest_values.latest_value,
        sum(metric_days.event_count) over ({{ so_far }}) as event_count_to_date,
        sum(metric_days.value_sum) over ({{ so_far }}) as value_sum_to_date,
        max(metric_days.value_max) over ({{ so_far }}) as value_max_to_date,
        sum(coalesce(new_distinct_values.new_value_count, 0)) over ({{ so_far }}) as distinct_count_to_date
    from metric_days
    left join day_latest_values
        on
            metric_days.invoice_id = day_latest_values.invoice_id
            and metric_days.metric_id = day_latest_values.metric_id
            and metric_days.usage_date = day_latest_values.usage_date
            and day_latest_values.recency_rank = 1
    left join new_distinct_values
        on
            metric_days.invoice_id = new_distinct_values.invoice_id
            and metric_days.metric_id = new_distinct_values.metric_id
            and metric_days.usage_date = new_distinct_values.usage_date

),

final as (

    select
        invoice_id,
        contract_id,
        customer_id,
        metric_id,
        aggregation,
        usage_date,
        cast(event_count_to_date as {{ dbt.type_bigint() }}) as event_count_to_date,
        cast(
            case aggregation
                when 'count' then event_count_to_date
                when 'sum' then value_sum_to_date
                when 'max' then value_max_to_date
                when 'unique_count' then distinct_count_to_date
                when 'latest' then latest_value
            end as {{ exact_decimal_type() }}
        ) as quantity_to_date
    from running_totals

)

select * from final
