-- depends_on: {{ ref('int_reference_data_errors') }}
{#
  Each accepted, metered event matched to the price row that bills it (SPEC §3 dimensions and
  effective dating). For every product (charge) of the contract that bills the event's metric, the
  row in force at occurred_at is chosen: a contract's own price of a product replaces the rate card's
  price of that product while effective; among the remaining rows the most specific dimension match
  wins. An event with no matching row keeps price_id null: unpriced usage, reported, never dropped.
#}
with

accepted_events as (

    select * from {{ ref('int_usage_events_classified') }}
    where
        event_status = 'accepted'
        and ingested_at <= {{ as_of() }}

),

metric_values as (

    select * from {{ ref('int_usage_event_metric_values') }}

),

billing_periods as (

    select * from {{ ref('int_contract_billing_periods') }}

),

prices as (

    select * from {{ ref('int_prices_resolved') }}
    where charge_type = 'usage'

),

metered_events as (

    select
        accepted_events.raw_row_key,
        accepted_events.event_id,
        accepted_events.customer_id,
        accepted_events.contract_id,
        accepted_events.occurred_at,
        billing_periods.invoice_id,
        billing_periods.rate_card_id,
        billing_periods.currency,
        billing_periods.period_start,
        billing_periods.period_end,
        metric_values.metric_id,
        metric_values.aggregation,
        metric_values.metric_value,
        metric_values.metric_value_text,
        metric_values.dimension_value_1,
        metric_values.dimension_value_2,
        metric_values.dimension_value_3,
        metric_values.dimensions
    from accepted_events
    inner join metric_values
        on accepted_events.raw_row_key = metric_values.raw_row_key
    inner join billing_periods
        on
            accepted_events.contract_id = billing_periods.contract_id
            and accepted_events.occurred_at >= billing_periods.period_start
            and accepted_events.occurred_at < billing_periods.period_end

),

prices_in_force as (

    select
        metered_events.raw_row_key,
        metered_events.metric_id,
        metered_events.dimension_value_1 as event_dimension_value_1,
        metered_events.dimension_value_2 as event_dimension_value_2,
        metered_events.dimension_value_3 as event_dimension_value_3,
        prices.price_id,
        prices.product_id,
        prices.contract_id as price_contract_id,
        prices.dimension_value_1,
        prices.dimension_value_2,
        prices.dimension_value_3,
        prices.specificity,
        max(case when prices.contract_id is not null then 1 else 0 end) over (
            partition by metered_events.raw_row_key, metered_events.metric_id, prices.product_id
        ) as product_has_contract_price
    from metered_events
    inner join prices
        on
            metered_events.metric_id = prices.metric_id
            and {{ price_applies('prices', 'metered_events', 'metered_events.occurred_at') }}

),

event_products as (

    select distinct
        raw_row_key,
        metric_id,
        product_id
    from prices_in_force

),

best_matches as (

    select
        raw_row_key,
        metric_id,
        product_id,
        price_id,
        row_number() over (
            partition by raw_row_key, metric_id, product_id
            order by specificity desc, price_id asc
        ) as match_rank
    from prices_in_force
    where
        (price_contract_id is not null) = (product_has_contract_price = 1)
        and (dimension_value_1 is null or dimension_value_1 = event_dimension_value_1)
        and (dimension_value_2 is null or dimension_value_2 = event_dimension_value_2)
        and (dimension_value_3 is null or dimension_value_3 = event_dimension_value_3)

),

final as (

    select
        metered_events.*,
        event_products.product_id,
        best_matches.price_id,
        best_matches.price_id is not null as is_priced
    from metered_events
    left join event_products
        on
            metered_events.raw_row_key = event_products.raw_row_key
            and metered_events.metric_id = event_products.metric_id
    left join best_matches
        on
            event_products.raw_row_key = best_matches.raw_row_key
            and event_products.metric_id = best_matches.metric_id
            and event_products.product_id = best_matches.product_id
            and best_matches.match_rank = 1

)

select * from final
