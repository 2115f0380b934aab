{#
  One row per contract x billing period, from the contract's first period to the one open at the
  run's clock. Totals are sums of the rounded lines (contract §5.1 step 8); status is draft until the
  period has closed (period_end + invoice_grace_hours <= as_of), then ready for publication. A period
  invoice is issued at that close and due payment_terms_days calendar days later (SPEC 6.2).
#}
with

billing_periods as (

    select * from {{ ref('int_contract_billing_periods') }}

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
        billing_periods.invoice_id,
        billing_periods.contract_id,
        billing_periods.customer_id,
        billing_periods.period_start,
        billing_periods.period_end,
        billing_periods.currency,
        cast(coalesce(line_totals.subtotal, 0) as {{ money_type() }}) as subtotal,
        cast(coalesce(line_totals.discount_total, 0) as {{ money_type() }}) as discount_total,
        cast(coalesce(line_totals.commitment_true_up, 0) as {{ money_type() }}) as commitment_true_up,
        cast(coalesce(line_totals.adjustment_total, 0) as {{ money_type() }}) as adjustment_total,
        cast(coalesce(line_totals.tax_total, 0) as {{ money_type() }}) as tax_total,
        cast(coalesce(line_totals.credits_applied, 0) as {{ money_type() }}) as credits_applied,
        cast(coalesce(line_totals.total_due, 0) as {{ money_type() }}) as total_due,
        cast(coalesce(line_totals.line_count, 0) as bigint) as line_count,
        billing_periods.invoice_status as status,
        billing_periods.closes_at,
        billing_periods.closes_at as issued_at,
        billing_periods.due_at,
        {{ as_of() }} as computed_at
    from billing_periods
    left join line_totals
        on billing_periods.invoice_id = line_totals.invoice_id

)

select * from final
