{#
  One row per contract x billing period x invoice kind (SPEC 6.2), from the contract's first period to
  the one open at the run's clock: a period invoice for every period, and an opening invoice at the
  start of a contract whose first period has fees billed in advance. Totals are sums of the rounded
  lines (contract §5.1 step 8). A period invoice is draft until the period has closed (period_end +
  invoice_grace_hours <= as_of), then ready for publication, and is issued at that close; an opening
  invoice is issued at the contract's start and ready invoice_grace_hours later. Each is due
  payment_terms_days calendar days after it is issued.
#}
with

contract_invoices as (

    select * from {{ ref('int_contract_invoices') }}

),

invoice_lines as (

    select * from {{ ref('invoice_lines') }}

),

{# subtotal, invoice discounts, commitment, late adjustments, credits: by each line type's rolls_into #}
line_totals as (

    {{ invoice_totals_from_lines('invoice_lines') }}

),

final as (

    select
        contract_invoices.invoice_id,
        contract_invoices.contract_id,
        contract_invoices.customer_id,
        contract_invoices.period_start,
        contract_invoices.period_end,
        contract_invoices.invoice_kind,
        contract_invoices.threshold_sequence,
        contract_invoices.currency,
        cast(coalesce(line_totals.subtotal, 0) as {{ money_type() }}) as subtotal,
        cast(coalesce(line_totals.discount_total, 0) as {{ money_type() }}) as discount_total,
        cast(coalesce(line_totals.commitment_true_up, 0) as {{ money_type() }}) as commitment_true_up,
        cast(coalesce(line_totals.adjustment_total, 0) as {{ money_type() }}) as adjustment_total,
        cast(coalesce(line_totals.tax_total, 0) as {{ money_type() }}) as tax_total,
        cast(coalesce(line_totals.threshold_billed, 0) as {{ money_type() }}) as threshold_billed,
        cast(coalesce(line_totals.credits_applied, 0) as {{ money_type() }}) as credits_applied,
        cast(coalesce(line_totals.total_due, 0) as {{ money_type() }}) as total_due,
        cast(coalesce(line_totals.line_count, 0) as bigint) as line_count,
        contract_invoices.invoice_status as status,
        contract_invoices.closes_at,
        contract_invoices.issued_at,
        contract_invoices.due_at,
        {{ as_of() }} as computed_at
    from contract_invoices
    left join line_totals
        on contract_invoices.invoice_id = line_totals.invoice_id

)

select * from final
