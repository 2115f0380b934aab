{#
  Each record represents one credit grant and its remaining balance (as in `customer_credit_balances`), of the customer the session names
  (session_customer_id(), macros/access.sql); no rows when the session names none. A security-barrier
  view on Postgres, read by billing_customer (decision 53).
#}
with

customer_credit_balances as (

    select * from {{ ref('customer_credit_balances') }}

),

final as (

    select * from customer_credit_balances
    where customer_id = {{ session_customer_id() }}

)

select * from final
