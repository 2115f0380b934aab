{#
  Usage that no price row bills (contract §4): one row per invoice (contract x billing period) x metric x
  product x dimension group. Reported for people and checked by a test that blocks publication.
#}
with

{# a seats price bills its metric's events as a recurring charge (SPEC 6.2): they are not unpriced #}
seats_prices as (

    select * from {{ ref('int_prices_resolved') }}
    where charge_type = 'recurring' and metric_id is not null

),

unpriced_groups as (

    select price_matches.*
    from {{ ref('int_usage_daily_price_matches') }} as price_matches
    left join seats_prices
        on
            price_matches.metric_id = seats_prices.metric_id
            and {{ price_applies('seats_prices', 'price_matches', 'cast(price_matches.usage_date as timestamp)') }}
    where
        not price_matches.is_priced
        and seats_prices.price_id is null

),

final as (

    select
        invoice_id,
        contract_id,
        customer_id,
        period_start,
        period_end,
        metric_id,
        product_id,
        dimensions,
        sum(event_count) as event_count,
        min(first_occurred_at) as first_occurred_at,
        max(last_occurred_at) as last_occurred_at
    from unpriced_groups
    group by invoice_id, contract_id, customer_id, period_start, period_end, metric_id, product_id, dimensions

)

select * from final
