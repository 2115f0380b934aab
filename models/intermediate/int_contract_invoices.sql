{#
  Every invoice of every contract up to the run's clock (SPEC 6.2): one row per contract x billing
  period x invoice kind x threshold_sequence. A period invoice for every billing period (its id is the
  period's invoice_id); an opening invoice at the contract's start for a contract whose first period
  has a fee billed in advance (it exists when some charge line is billed on it, so it is never empty).
  A threshold invoice each time a period's running usage amount reached new levels
  (int_threshold_invoices). The billing periods stay in int_contract_billing_periods, the grain usage is
  rated at; the models that make, total, tax, credit or publish invoices read this one.

  issued_at: the period's close for a period invoice, the contract's start for an opening one, the
  moment its level was reached for a threshold one. closes_at: when it is ready (issued_at +
  invoice_grace_hours for an opening or threshold invoice, so that the events of that moment can still
  land). terms_at: the instant whose grants and tax rates apply, read as "in force just before
  terms_at": the period's end for a period invoice (its last instant), one microsecond after issued_at
  for an opening or threshold invoice (so terms starting at issued_at apply).
  kind_order orders the invoices of one period: opening (0), threshold (1, then by threshold_sequence),
  period (2). Corrections and credit draws walk a contract's invoices by (period_start, kind_order);
  publication numbers invoices by issued_at.
#}
with

billing_periods as (

    select * from {{ ref('int_contract_billing_periods') }}

),

charge_lines as (

    select * from {{ ref('int_charges_rated') }}

),

contracts as (

    select * from {{ ref('stg_seed__contracts') }}

),

period_invoices as (

    select
        invoice_id,
        'period' as invoice_kind,
        cast(null as integer) as threshold_sequence,
        2 as kind_order,
        invoice_id as period_invoice_id,
        contract_id,
        customer_id,
        rate_card_id,
        currency,
        billing_period,
        months_per_period,
        period_start,
        period_end,
        coverage_starts_at,
        coverage_ends_at,
        period_days,
        covered_days,
        closes_at as issued_at,
        closes_at,
        period_end as terms_at,
        due_at
    from billing_periods

),

opening_invoice_ids as (

    select distinct invoice_id
    from charge_lines
    where invoice_kind = 'opening'

),

opening_invoices as (

    select
        billing_periods.advance_invoice_id as invoice_id,
        'opening' as invoice_kind,
        cast(null as integer) as threshold_sequence,
        0 as kind_order,
        billing_periods.invoice_id as period_invoice_id,
        billing_periods.contract_id,
        billing_periods.customer_id,
        billing_periods.rate_card_id,
        billing_periods.currency,
        billing_periods.billing_period,
        billing_periods.months_per_period,
        billing_periods.period_start,
        billing_periods.period_end,
        billing_periods.coverage_starts_at,
        billing_periods.coverage_ends_at,
        billing_periods.period_days,
        billing_periods.covered_days,
        contracts.starts_at as issued_at,
        {{ dbt.dateadd('hour', var('invoice_grace_hours'), 'contracts.starts_at') }} as closes_at,
        {{ one_microsecond_after('contracts.starts_at') }} as terms_at,
        {# the parentheses keep the expression whole inside the multiplication dbt's dateadd writes on Spark #}
        {{ dbt.dateadd('day', '(coalesce(contracts.payment_terms_days, 0))', 'contracts.starts_at') }} as due_at
    from billing_periods
    inner join opening_invoice_ids
        on billing_periods.advance_invoice_id = opening_invoice_ids.invoice_id
    inner join contracts
        on billing_periods.contract_id = contracts.contract_id
    where billing_periods.is_first_period

),

{# a threshold invoice (SPEC 6.2) is issued at the ingested_at of the event that reached its level #}
threshold_invoices as (

    select
        threshold_invoices.invoice_id,
        'threshold' as invoice_kind,
        threshold_invoices.threshold_sequence,
        1 as kind_order,
        billing_periods.invoice_id as period_invoice_id,
        billing_periods.contract_id,
        billing_periods.customer_id,
        billing_periods.rate_card_id,
        billing_periods.currency,
        billing_periods.billing_period,
        billing_periods.months_per_period,
        billing_periods.period_start,
        billing_periods.period_end,
        billing_periods.coverage_starts_at,
        billing_periods.coverage_ends_at,
        billing_periods.period_days,
        billing_periods.covered_days,
        threshold_invoices.issued_at,
        {# issued at an event's ingested_at: the fraction of a second stays, on Spark too #}
        {{ dateadd_keeping_fraction('hour', var('invoice_grace_hours'), 'threshold_invoices.issued_at') }}
            as closes_at,
        {{ one_microsecond_after('threshold_invoices.issued_at') }} as terms_at,
        {{ dateadd_keeping_fraction(
            'day', '(coalesce(contracts.payment_terms_days, 0))', 'threshold_invoices.issued_at'
        ) }} as due_at
    from {{ ref('int_threshold_invoices') }} as threshold_invoices
    inner join billing_periods
        on threshold_invoices.period_invoice_id = billing_periods.invoice_id
    inner join contracts
        on billing_periods.contract_id = contracts.contract_id

),

all_invoices as (

    select * from period_invoices
    union all
    select * from opening_invoices
    union all
    select * from threshold_invoices

),

final as (

    select
        *,
        case
            when {{ as_of() }} >= closes_at then 'ready'
            else 'draft'
        end as invoice_status
    from all_invoices

)

select * from final
