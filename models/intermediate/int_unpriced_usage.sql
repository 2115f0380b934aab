{#
  Usage that no price row bills (contract §4): one row per invoice (contract x billing period) x metric x
  product x dimension group. Reported for people and checked by a test that blocks publication.
#}
with

unpriced_groups as (

    select * from {{ ref('int_usage_daily_price_matches') }}
    where not is_priced

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
