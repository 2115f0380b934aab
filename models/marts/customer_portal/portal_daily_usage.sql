{#
  Each record represents one contract x metric x dimension group x UTC day of usage (as in `daily_usage`), of the customer the session names
  (session_customer_id(), macros/access.sql); no rows when the session names none. A security-barrier
  view on Postgres, read by billing_customer (decision 53). The mart's columns but its bookkeeping
  (source_recomputed_at, reference_fingerprint: decision 58), which says nothing to a customer.
#}
with

daily_usage as (

    select * from {{ ref('daily_usage') }}

),

final as (

    select
        customer_id,
        contract_id,
        metric_id,
        aggregation,
        dimensions,
        usage_date,
        quantity,
        event_count
    from daily_usage
    where customer_id = {{ session_customer_id() }}

)

select * from final
