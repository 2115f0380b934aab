{#
  Usage that no price row bills (SPEC §3): one row per invoice (contract x billing period) x metric x
  product x dimension group. Reported for people and checked by a test that blocks publication.
#}
with

priced_events as (

    select * from {{ ref('int_usage_events_priced') }}
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
        count(*) as event_count,
        min(occurred_at) as first_occurred_at,
        max(occurred_at) as last_occurred_at
    from priced_events
    group by invoice_id, contract_id, customer_id, period_start, period_end, metric_id, product_id, dimensions

)

select * from final
