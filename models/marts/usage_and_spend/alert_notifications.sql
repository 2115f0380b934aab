{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        full_refresh=false,
        on_schema_change='append_new_columns',
    )
}}
{#
  Every crossing of a usage_alerts threshold, recorded once (SPEC 6.3): append-only, never rebuilt
  (full_refresh = false), so a row keeps the as_of and the value of the first run that saw it, and a
  rerun, a later run or a full refresh adds only crossings not recorded yet (notification_id).

  Alerts watch the periods whose invoice is still a draft (until period_end + invoice_grace_hours), so
  usage of a period's last hours still counts and a new alert does not announce old periods.
  - spend: the draft invoice's total_due (customer_live_spend's amount_due_so_far) reaches threshold:
    one crossing per period, seen at the run's clock (the amount due has no history by day).
  - usage: the metric's quantity so far in the period (int_metric_quantities_to_date) reaches
    threshold on a usage day whose previous usage day was below it: numbered by day, so a latest
    metric that falls back and rises again crosses twice.
  - credit_balance: a grant's closing balance in a period (credit_ledger, the draft's included) is at
    or below threshold where the period before was above it (or it is the grant's first period).
  notification_id hashes alert_id, period_start, the grant (credit_balance) and the crossing number.
#}
with

alerts as (

    select * from {{ ref('stg_seed__usage_alerts') }}

),

billing_periods as (

    select * from {{ ref('int_contract_billing_periods') }}

),

invoices as (

    select * from {{ ref('invoices') }}

),

quantities_to_date as (

    select * from {{ ref('int_metric_quantities_to_date') }}

),

ledger as (

    select * from {{ ref('credit_ledger') }}

),

draft_periods as (

    select * from billing_periods
    where invoice_status = 'draft'

),

spend_crossings as (

    select
        alerts.alert_id,
        alerts.alert_type,
        alerts.contract_id,
        invoices.customer_id,
        invoices.invoice_id,
        invoices.period_start,
        invoices.period_end,
        alerts.metric_id,
        cast(null as {{ dbt.type_string() }}) as grant_id,
        1 as crossing_number,
        cast(null as date) as crossed_on,
        invoices.total_due as crossed_value,
        alerts.threshold,
        alerts.currency
    from alerts
    inner join invoices
        on alerts.contract_id = invoices.contract_id
    where
        alerts.alert_type = 'spend'
        {# the open period's own invoice: an opening invoice is a one-off, issued at a contract's start #}
        and invoices.invoice_kind = 'period'
        and invoices.status = 'draft'
        and invoices.total_due >= alerts.threshold

),

usage_days as (

    select
        alerts.alert_id,
        alerts.alert_type,
        alerts.contract_id,
        alerts.metric_id,
        alerts.threshold,
        quantities_to_date.customer_id,
        quantities_to_date.invoice_id,
        quantities_to_date.usage_date,
        quantities_to_date.quantity_to_date,
        case
            when quantities_to_date.quantity_to_date >= alerts.threshold then 1 else 0
        end as is_reached,
        lag(case when quantities_to_date.quantity_to_date >= alerts.threshold then 1 else 0 end) over (
            partition by alerts.alert_id, quantities_to_date.invoice_id
            order by quantities_to_date.usage_date
        ) as was_reached
    from alerts
    inner join quantities_to_date
        on
            alerts.contract_id = quantities_to_date.contract_id
            and alerts.metric_id = quantities_to_date.metric_id
    where alerts.alert_type = 'usage'

),

usage_crossing_days as (

    select
        *,
        sum(case when is_reached = 1 and coalesce(was_reached, 0) = 0 then 1 else 0 end) over (
            partition by alert_id, invoice_id
            order by usage_date
            rows between unbounded preceding and current row
        ) as crossing_number
    from usage_days

),

usage_crossings as (

    select
        usage_crossing_days.alert_id,
        usage_crossing_days.alert_type,
        usage_crossing_days.contract_id,
        usage_crossing_days.customer_id,
        usage_crossing_days.invoice_id,
        draft_periods.period_start,
        draft_periods.period_end,
        usage_crossing_days.metric_id,
        cast(null as {{ dbt.type_string() }}) as grant_id,
        usage_crossing_days.crossing_number,
        usage_crossing_days.usage_date as crossed_on,
        usage_crossing_days.quantity_to_date as crossed_value,
        usage_crossing_days.threshold,
        cast(null as {{ dbt.type_string() }}) as currency
    from usage_crossing_days
    inner join draft_periods
        on usage_crossing_days.invoice_id = draft_periods.invoice_id
    where usage_crossing_days.is_reached = 1 and coalesce(usage_crossing_days.was_reached, 0) = 0

),

balance_periods as (

    select
        alerts.alert_id,
        alerts.alert_type,
        alerts.contract_id,
        alerts.metric_id,
        alerts.threshold,
        alerts.currency,
        ledger.grant_id,
        ledger.invoice_id,
        ledger.closing_balance,
        ledger.period_start,
        ledger.invoice_sequence,
        case when ledger.closing_balance <= alerts.threshold then 1 else 0 end as is_reached,
        lag(case when ledger.closing_balance <= alerts.threshold then 1 else 0 end) over (
            partition by alerts.alert_id, ledger.grant_id
            order by ledger.invoice_sequence
        ) as was_reached
    from alerts
    inner join ledger
        on alerts.contract_id = ledger.contract_id
    where alerts.alert_type = 'credit_balance'

),

balance_crossing_periods as (

    select
        *,
        sum(case when is_reached = 1 and coalesce(was_reached, 0) = 0 then 1 else 0 end) over (
            partition by alert_id, grant_id
            order by invoice_sequence
            rows between unbounded preceding and current row
        ) as crossing_number
    from balance_periods

),

{# joined by period, not invoice: a crossing on an opening invoice (SPEC 6.2) is its open first period's #}
balance_crossings as (

    select
        balance_crossing_periods.alert_id,
        balance_crossing_periods.alert_type,
        balance_crossing_periods.contract_id,
        draft_periods.customer_id,
        balance_crossing_periods.invoice_id,
        draft_periods.period_start,
        draft_periods.period_end,
        balance_crossing_periods.metric_id,
        balance_crossing_periods.grant_id,
        balance_crossing_periods.crossing_number,
        cast(null as date) as crossed_on,
        balance_crossing_periods.closing_balance as crossed_value,
        balance_crossing_periods.threshold,
        balance_crossing_periods.currency
    from balance_crossing_periods
    inner join draft_periods
        on
            balance_crossing_periods.contract_id = draft_periods.contract_id
            and balance_crossing_periods.period_start = draft_periods.period_start
    where balance_crossing_periods.is_reached = 1 and coalesce(balance_crossing_periods.was_reached, 0) = 0

),

crossings as (

    select * from spend_crossings
    union all
    select * from usage_crossings
    union all
    select * from balance_crossings

),

identified as (

    select
        {{ dbt.hash(
            "alert_id || '|' || cast(period_start as " ~ dbt.type_string() ~ ") || '|' || coalesce(grant_id, '')"
            ~ " || '|' || cast(crossing_number as " ~ dbt.type_string() ~ ")"
        ) }} as notification_id,
        crossings.*
    from crossings

),

{% if is_incremental() %}
already_recorded as (

    select notification_id from {{ this }}

),
{% else %}
    already_recorded as (

        select cast(null as {{ dbt.type_string() }}) as notification_id
        where 1 = 0

    ),
{% endif %}

final as (

    select
        identified.notification_id,
        identified.alert_id,
        identified.alert_type,
        identified.contract_id,
        identified.customer_id,
        identified.invoice_id,
        identified.period_start,
        identified.period_end,
        identified.metric_id,
        identified.grant_id,
        cast(identified.crossing_number as integer) as crossing_number,
        identified.crossed_on,
        cast(identified.crossed_value as {{ exact_decimal_type() }}) as crossed_value,
        cast(identified.threshold as {{ exact_decimal_type() }}) as threshold,
        identified.currency,
        {{ as_of() }} as as_of
    from identified
    where
        not exists (
            select 1 from already_recorded
            where already_recorded.notification_id = identified.notification_id
        )

)

select * from final
