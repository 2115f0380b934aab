{#
  Step 3 of a charge's period quantity: zero usage (contract §4.5, decision 3). Every usage charge of
  the contract with no quantity in a billing period, neither from events nor carried forward, is rated
  at q = 0 on its fallback (dimension-less) price row in force on the period's first covered day: the
  contract's own row where it has one, else the rate card's (decision 10).
#}
with

billing_periods as (

    select * from {{ ref('int_contract_billing_periods') }}

),

prices as (

    select * from {{ ref('int_prices_resolved') }}
    where charge_type = 'usage'

),

quantities_from_events as (

    select * from {{ ref('int_charge_quantities_from_events') }}

),

quantities_carried_forward as (

    select * from {{ ref('int_charge_quantities_carried_forward') }}

),

products_with_a_quantity as (

    select
        invoice_id,
        product_id
    from quantities_from_events
    union all
    select
        invoice_id,
        product_id
    from quantities_carried_forward

),

{# every usage price row in force for each billing period of the contract #}
prices_in_force as (

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

fallback_prices as (

    select * from prices_in_force
    where
        specificity = 0
        and {{ is_contract_price_choice('price_contract_id', 'product_has_contract_price') }}

),

final as (

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
    where not exists (
        select 1
        from products_with_a_quantity
        where
            products_with_a_quantity.invoice_id = fallback_prices.invoice_id
            and products_with_a_quantity.product_id = fallback_prices.product_id
    )

)

select * from final
