{#
  Each record represents one open billing period of a contract (as in `customer_live_spend`), of the customer the session names
  (session_customer_id(), macros/access.sql); no rows when the session names none. A security-barrier
  view on Postgres, read by billing_customer (decision 53).
#}
with

customer_live_spend as (

    select * from {{ ref('customer_live_spend') }}

),

final as (

    select * from customer_live_spend
    where customer_id = {{ session_customer_id() }}

)

select * from final
