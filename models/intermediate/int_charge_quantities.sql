{#
  The billable quantity of each usage charge line: one row per invoice (contract x billing period) x
  price row x dimension group. Quantities follow the metric's aggregation over the period's accepted
  events, read from their daily groups (int_usage_daily_price_matches). Two kinds of rows exist without events in the period (SPEC §2.2, §3): a latest-value metric
  carries its last value forward, and a charge with nothing at all is rated at q = 0 on its fallback
  (dimension-less) price row.
#}
with

priced_usage as (

    select * from {{ ref('int_usage_daily_price_matches') }}
    where is_priced

),

billing_periods as (

    select * from {{ ref('int_contract_billing_periods') }}

),

prices as (

    select * from {{ ref('int_prices_resolved') }}
    where charge_type = 'usage'

),

latest_values as (

    select
        invoice_id,
        price_id,
        dimensions,
        metric_value as latest_value
    from (
        select
            invoice_id,
            price_id,
            dimensions,
            latest_value as metric_value,
            row_number() over (
                partition by invoice_id, price_id, dimensions
                order by latest_occurred_at desc, latest_event_id desc
            ) as recency_rank
        from priced_usage
        where aggregation = 'latest'
    ) as ranked
    where recency_rank = 1

),

{# unique_count: distinct values across the whole period, never a sum of the days' counts #}
distinct_counts as (

    select
        priced_usage.invoice_id,
        priced_usage.price_id,
        priced_usage.dimensions,
        count(distinct daily_values.distinct_value) as distinct_count
    from priced_usage
    inner join {{ ref('int_usage_daily_aggregates') }} as daily_values
        on
            priced_usage.contract_id = daily_values.contract_id
            and priced_usage.usage_date = daily_values.usage_date
            and priced_usage.metric_id = daily_values.metric_id
            and priced_usage.dimensions = daily_values.dimensions
    where priced_usage.aggregation = 'unique_count'
    group by priced_usage.invoice_id, priced_usage.price_id, priced_usage.dimensions

),

summed as (

    select
        invoice_id,
        contract_id,
        price_id,
        product_id,
        metric_id,
        aggregation,
        dimensions,
        sum(event_count) as event_count,
        case aggregation
            when 'count' then cast(sum(event_count) as {{ exact_decimal_type() }})
            when 'sum' then cast(sum(value_sum) as {{ exact_decimal_type() }})
            when 'max' then cast(max(value_max) as {{ exact_decimal_type() }})
        end as summed_quantity
    from priced_usage
    group by invoice_id, contract_id, price_id, product_id, metric_id, aggregation, dimensions

),

aggregated as (

    select
        summed.invoice_id,
        summed.contract_id,
        summed.price_id,
        summed.product_id,
        summed.metric_id,
        summed.aggregation,
        summed.dimensions,
        summed.event_count,
        case
            when summed.aggregation = 'unique_count'
                then cast(distinct_counts.distinct_count as {{ exact_decimal_type() }})
            else summed.summed_quantity
        end as aggregated_quantity
    from summed
    left join distinct_counts
        on
            summed.invoice_id = distinct_counts.invoice_id
            and summed.price_id = distinct_counts.price_id
            and summed.dimensions = distinct_counts.dimensions

),

with_events as (

    select
        aggregated.invoice_id,
        aggregated.contract_id,
        aggregated.price_id,
        aggregated.product_id,
        aggregated.metric_id,
        aggregated.dimensions,
        aggregated.event_count,
        coalesce(aggregated.aggregated_quantity, latest_values.latest_value) as quantity,
        'events' as quantity_source
    from aggregated
    left join latest_values
        on
            aggregated.invoice_id = latest_values.invoice_id
            and aggregated.price_id = latest_values.price_id
            and aggregated.dimensions = latest_values.dimensions

),

{# latest metrics: each later period of the contract without an event of the group keeps the last value #}
latest_groups as (

    select distinct
        contract_id,
        price_id,
        product_id,
        metric_id,
        dimensions
    from priced_usage
    where aggregation = 'latest'

),

latest_events as (

    select
        contract_id,
        price_id,
        dimensions,
        latest_occurred_at as occurred_at,
        latest_event_id as event_id,
        latest_value as metric_value
    from priced_usage
    where aggregation = 'latest'

),

carried_forward_candidates as (

    select
        billing_periods.invoice_id,
        latest_groups.contract_id,
        latest_groups.price_id,
        latest_groups.product_id,
        latest_groups.metric_id,
        latest_groups.dimensions,
        latest_events.metric_value,
        row_number() over (
            partition by billing_periods.invoice_id, latest_groups.price_id, latest_groups.dimensions
            order by latest_events.occurred_at desc, latest_events.event_id desc
        ) as recency_rank
    from latest_groups
    inner join billing_periods
        on latest_groups.contract_id = billing_periods.contract_id
    inner join latest_events
        on
            latest_groups.contract_id = latest_events.contract_id
            and latest_groups.price_id = latest_events.price_id
            and latest_groups.dimensions = latest_events.dimensions
            and billing_periods.period_start > latest_events.occurred_at
    where not exists (
        select 1
        from with_events
        where
            with_events.invoice_id = billing_periods.invoice_id
            and with_events.price_id = latest_groups.price_id
            and with_events.dimensions = latest_groups.dimensions
    )

),

carried_forward as (

    select
        invoice_id,
        contract_id,
        price_id,
        product_id,
        metric_id,
        dimensions,
        0 as event_count,
        metric_value as quantity,
        'carried_forward' as quantity_source
    from carried_forward_candidates
    where recency_rank = 1

),

with_usage as (

    select * from with_events
    union all
    select * from carried_forward

),

{# zero usage: every usage charge of the contract, in every period, on its fallback row #}
fallback_prices as (

    select
        billing_periods.invoice_id,
        billing_periods.contract_id,
        prices.price_id,
        prices.product_id,
        prices.metric_id,
        prices.contract_id as price_contract_id,
        prices.specificity,
        {{ contract_price_present('prices', 'billing_periods.invoice_id, prices.product_id') }}
            as product_has_contract_price
    from billing_periods
    inner join prices
        on
            {{ price_applies('prices', 'billing_periods', 'billing_periods.coverage_starts_at') }}

),

zero_usage as (

    select
        fallback_prices.invoice_id,
        fallback_prices.contract_id,
        fallback_prices.price_id,
        fallback_prices.product_id,
        fallback_prices.metric_id,
        '{}' as dimensions,
        0 as event_count,
        cast(0 as {{ exact_decimal_type() }}) as quantity,
        'zero_usage' as quantity_source
    from fallback_prices
    where
        fallback_prices.specificity = 0
        and {{ is_contract_price_choice(
            'fallback_prices.price_contract_id', 'fallback_prices.product_has_contract_price'
        ) }}
        and not exists (
            select 1
            from with_usage
            where
                with_usage.invoice_id = fallback_prices.invoice_id
                and with_usage.product_id = fallback_prices.product_id
        )

),

all_quantities as (

    select * from with_usage
    union all
    select * from zero_usage

),

final as (

    select
        invoice_id,
        contract_id,
        price_id,
        product_id,
        metric_id,
        dimensions,
        event_count,
        cast(quantity as {{ exact_decimal_type() }}) as quantity,
        quantity_source
    from all_quantities

)

select * from final
