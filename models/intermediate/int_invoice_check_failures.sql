{#
  The per-invoice checks of SPEC §6.1: one row per invoice x failed check x offending item, with the
  reason in words. A failure here holds that invoice only (invoice_holds); every other invoice
  publishes. Checks that concern the whole run (raw rows conserved, reference data valid) stay
  blocking dbt tests and stop every publication.

  - total_equals_lines: total_due is the sum of the lines, and subtotal - discount_total
    + commitment_true_up + adjustment_total + tax_total - threshold_billed - credits_applied.
  - line_types: every line has a type invoice_line_types knows for its scope, with the sign it allows.
  - currency: every line is in the invoice's currency, and no amount has more decimals than that
    currency's minor units.
  - all_usage_priced: the contract's usage in the period matches a price (int_unpriced_usage).
  - no_negative_total: total_due is not below zero.
  - tax_rate_in_force: a taxed customer's invoice has a rate in force for every base (SPEC 6.2).
#}
with

invoices as (

    select * from {{ ref('invoices') }}

),

invoice_lines as (

    select * from {{ ref('invoice_lines') }}

),

line_types as (

    select * from {{ ref('invoice_line_types') }}

),

currencies as (

    select * from {{ ref('stg_seed__currencies') }}

),

unpriced_usage as (

    select * from {{ ref('int_unpriced_usage') }}

),

line_sums as (

    select
        invoice_id,
        sum(amount) as sum_of_lines
    from invoice_lines
    group by invoice_id

),

total_failures as (

    select
        invoices.invoice_id,
        'total_equals_lines' as check_name,
        cast(null as {{ dbt.type_string() }}) as item_id,
        case
            when invoices.total_due <> coalesce(line_sums.sum_of_lines, 0)
                then
                    'total_due ' || cast(invoices.total_due as {{ dbt.type_string() }})
                    || ' differs from the sum of its lines '
                    || cast(coalesce(line_sums.sum_of_lines, 0) as {{ dbt.type_string() }})
            else
                'total_due ' || cast(invoices.total_due as {{ dbt.type_string() }})
                || ' differs from subtotal - discount_total + commitment_true_up + adjustment_total'
                || ' + tax_total - threshold_billed - credits_applied'
        end as reason
    from invoices
    left join line_sums
        on invoices.invoice_id = line_sums.invoice_id
    where
        invoices.total_due <> coalesce(line_sums.sum_of_lines, 0)
        or invoices.total_due
        <> invoices.subtotal - invoices.discount_total + invoices.commitment_true_up
        + invoices.adjustment_total + invoices.tax_total - invoices.threshold_billed - invoices.credits_applied

),

line_failures as (

    select
        invoice_lines.invoice_id,
        case
            when
                currencies.currency is null or invoice_lines.currency <> invoices.currency
                or invoice_lines.amount <> {{ round_to_minor_units("invoice_lines.amount", "currencies.minor_units") }}
                then 'currency'
            else 'line_types'
        end as check_name,
        invoice_lines.invoice_line_id as item_id,
        'line ' || invoice_lines.invoice_line_id || ' (' || invoice_lines.line_type || ', '
        || cast(invoice_lines.amount as {{ dbt.type_string() }}) || '): '
        || case
            when currencies.currency is null
                then 'currency ' || coalesce(invoice_lines.currency, 'null') || ' is not in the currencies seed'
            when invoice_lines.currency <> invoices.currency
                then 'currency ' || invoice_lines.currency || ' differs from the invoice currency ' || invoices.currency
            when invoice_lines.amount <> {{ round_to_minor_units("invoice_lines.amount", "currencies.minor_units") }}
                then
                    'more decimals than the ' || currencies.currency || ' minor units ('
                    || cast(currencies.minor_units as {{ dbt.type_string() }}) || ')'
            when line_types.line_type is null
                then 'line type not in invoice_line_types for its scope'
            when line_types.amount_sign = 'positive_or_zero' and invoice_lines.amount < 0
                then 'negative amount on a line type that only adds'
            else 'positive amount on a line type that only subtracts'
        end as reason
    from invoice_lines
    inner join invoices
        on invoice_lines.invoice_id = invoices.invoice_id
    left join currencies
        on invoice_lines.currency = currencies.currency
    left join line_types
        on
            invoice_lines.line_type = line_types.line_type
            and line_types.line_scope = {{ line_scope('invoice_lines.product_id') }}
    where
        currencies.currency is null
        or invoice_lines.currency <> invoices.currency
        or invoice_lines.amount <> {{ round_to_minor_units("invoice_lines.amount", "currencies.minor_units") }}
        or line_types.line_type is null
        or (line_types.amount_sign = 'positive_or_zero' and invoice_lines.amount < 0)
        or (line_types.amount_sign = 'negative_or_zero' and invoice_lines.amount > 0)

),

unpriced_failures as (

    select
        invoice_id,
        'all_usage_priced' as check_name,
        metric_id || '|' || coalesce(product_id, '') || '|' || dimensions as item_id,
        cast(event_count as {{ dbt.type_string() }}) || ' event(s) of metric ' || metric_id
        || coalesce(' (product ' || product_id || ')', '') || ' with dimensions ' || dimensions
        || ' match no price' as reason
    from unpriced_usage

),

negative_failures as (

    select
        invoice_id,
        'no_negative_total' as check_name,
        cast(null as {{ dbt.type_string() }}) as item_id,
        'total_due ' || cast(total_due as {{ dbt.type_string() }}) || ' is below zero' as reason
    from invoices
    where total_due < 0

),

{# a taxed customer's invoice with a base that no rate in force covers (SPEC 6.2) #}
untaxed_failures as (

    select distinct
        invoice_id,
        'tax_rate_in_force' as check_name,
        cast(null as {{ dbt.type_string() }}) as item_id,
        'no tax rate of the customer''s jurisdiction is in force at the period''s end' as reason
    from {{ ref('int_invoice_taxable_bases') }}
    where tax_rate_id is null

),

failures as (

    select * from untaxed_failures
    union all
    select * from total_failures
    union all
    select * from line_failures
    union all
    select * from unpriced_failures
    union all
    select * from negative_failures

),

final as (

    select
        failures.invoice_id,
        invoices.contract_id,
        invoices.customer_id,
        invoices.period_start,
        invoices.status,
        failures.check_name,
        failures.item_id,
        failures.reason
    from failures
    inner join invoices
        on failures.invoice_id = invoices.invoice_id

)

select * from final
