{#
  Each record represents one contract x metric x dimension group x UTC day of spend (as in `daily_spend`), of the customer the session names
  (session_customer_id(), macros/access.sql); no rows when the session names none. A security-barrier
  view on Postgres, read by billing_customer (decision 53). The mart's columns but its bookkeeping
  (source_recomputed_at, reference_fingerprint: decision 58), which says nothing to a customer.
#}
with

daily_spend as (

    select * from {{ ref('daily_spend') }}

),

final as (

    select
        customer_id,
        contract_id,
        invoice_id,
        period_start,
        period_end,
        currency,
        metric_id,
        dimensions,
        usage_date,
        event_count,
        amount
    from daily_spend
    where customer_id = {{ session_customer_id() }}

)

select * from final
