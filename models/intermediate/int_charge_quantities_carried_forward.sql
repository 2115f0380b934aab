{#
  Step 2 of a charge's period quantity: a latest-value metric keeps its last value (contract §4.1,
  decision 16). For each charge (product) x dimension group that has had events of a latest metric,
  every later billing period of the contract without an event of the group, on any of the charge's
  price rows, gets the value of the last event before the period, on the price row that priced that
  event. Keyed by the charge, not the price row: after a price change the old row's last value must
  not be billed beside the new row's.
#}
with

priced_usage as (

    select * from {{ ref('int_usage_daily_price_matches') }}
    where is_priced

),

billing_periods as (

    select * from {{ ref('int_contract_billing_periods') }}

),

quantities_from_events as (

    select * from {{ ref('int_charge_quantities_from_events') }}

),

latest_groups as (

    select distinct
        contract_id,
        product_id,
        metric_id,
        dimensions
    from priced_usage
    where aggregation = 'latest'

),

{# each day's last event of the group: its value and when it happened #}
latest_events as (

    select
        contract_id,
        price_id,
        product_id,
        metric_id,
        dimensions,
        latest_occurred_at as occurred_at,
        latest_event_id as event_id,
        latest_value as metric_value
    from priced_usage
    where aggregation = 'latest'

),

{#
  the contract's billing periods in which the group has no quantity from events. Materialized on
  Postgres: planned inside the whole query, the join of the groups with their own events is estimated
  at one row, and a nested-loop anti join over every quantity then took more than 13 minutes at 10M
  events (bench, 2026-12-07); planned alone it is a hash anti join
#}
periods_without_events as {{ cte_hint('materialized') if target.type == 'postgres' }} (

    select
        billing_periods.invoice_id,
        billing_periods.period_start,
        latest_groups.contract_id,
        latest_groups.product_id,
        latest_groups.metric_id,
        latest_groups.dimensions
    from latest_groups
    inner join billing_periods
        on latest_groups.contract_id = billing_periods.contract_id
    where not exists (
        select 1
        from quantities_from_events
        where
            quantities_from_events.invoice_id = billing_periods.invoice_id
            and quantities_from_events.product_id = latest_groups.product_id
            and quantities_from_events.metric_id = latest_groups.metric_id
            and quantities_from_events.dimensions = latest_groups.dimensions
    )

),

{# the events before each such period, most recent first (ties on occurred_at by the higher event_id) #}
earlier_events_ranked as (

    select
        periods_without_events.invoice_id,
        periods_without_events.contract_id,
        latest_events.price_id,
        periods_without_events.product_id,
        periods_without_events.metric_id,
        periods_without_events.dimensions,
        latest_events.metric_value,
        row_number() over (
            partition by
                periods_without_events.invoice_id,
                periods_without_events.product_id,
                periods_without_events.metric_id,
                periods_without_events.dimensions
            order by latest_events.occurred_at desc, latest_events.event_id desc
        ) as recency_rank
    from periods_without_events
    inner join latest_events
        on
            periods_without_events.contract_id = latest_events.contract_id
            and periods_without_events.product_id = latest_events.product_id
            and periods_without_events.metric_id = latest_events.metric_id
            and periods_without_events.dimensions = latest_events.dimensions
            and periods_without_events.period_start > latest_events.occurred_at

),

final as (

    select
        invoice_id,
        contract_id,
        price_id,
        product_id,
        metric_id,
        dimensions,
        0 as event_count,
        cast(metric_value as {{ exact_decimal_type() }}) as quantity,
        'carried_forward' as quantity_source
    from earlier_events_ranked
    where recency_rank = 1

)

select * from final
