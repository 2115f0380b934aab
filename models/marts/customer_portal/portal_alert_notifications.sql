{#
  Each record represents one crossing of one of the session customer's alert thresholds (as in
  `alert_notifications`), of the customer the session names (session_customer_id(), macros/access.sql);
  no rows when the session names none. A security-barrier view on Postgres, read by billing_customer
  (decision 53). The customer dashboard lists them beside live spend.
#}
with

alert_notifications as (

    select * from {{ ref('alert_notifications') }}

),

final as (

    select * from alert_notifications
    where customer_id = {{ session_customer_id() }}

)

select * from final
