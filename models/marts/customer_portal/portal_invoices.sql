{#
  Each record represents one invoice (as in `invoices`, drafts included), of the customer the session names
  (session_customer_id(), macros/access.sql); no rows when the session names none. A security-barrier
  view on Postgres, read by billing_customer (decision 53).
#}
with

invoices as (

    select * from {{ ref('invoices') }}

),

final as (

    select * from invoices
    where customer_id = {{ session_customer_id() }}

)

select * from final
