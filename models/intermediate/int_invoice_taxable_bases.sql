{#
  The taxable base of each invoice of a taxed customer (SPEC 6.2, decision 61), and the rate that
  applies to it. One row per invoice x product, plus one row per invoice (product_id empty) for the
  lines without a product that are taxed at the all-products rate: always there (a base of 0 when the
  invoice has none of them), so that every taxed invoice shows its all-products tax line.

  A customer is taxed when it has a tax_jurisdiction and is not tax_exempt. A rate is in force at the
  invoice's terms instant (effective_from < terms_at <= effective_to: the period's last instant for a
  period invoice, its issued_at for an opening one); a product's own rate replaces the all-products rate. A product's base is its lines after charge terms (usage, recurring, override,
  charge discount, minimum, cap), less its share of the invoice-level discounts (pro rata to those
  amounts, rounded to minor units, the rounding remainder on the largest, ties by product_id), plus
  its late-event adjustments; a threshold invoice's usage to date is its product's base. The
  commitment true-up, the invoice-level late adjustments and what threshold invoices billed (negative,
  on the period invoice) form the all-products row. Balances and credit notes from earlier invoices already include their tax, and
  credits are drawn after tax: none of them is taxed.
#}
with

contract_invoices as (

    select * from {{ ref('int_contract_invoices') }}

),

customers as (

    select * from {{ ref('stg_seed__customers') }}

),

tax_rates as (

    select * from {{ ref('stg_seed__tax_rates') }}

),

currencies as (

    select * from {{ ref('stg_seed__currencies') }}

),

threshold_lines as (

    select * from {{ ref('int_threshold_lines') }}

),

charge_lines as (

    select
        invoice_id,
        product_id,
        amount
    from {{ ref('int_charges_rated') }}
    union all
    select
        invoice_id,
        product_id,
        amount
    from {{ ref('int_charge_adjustment_lines') }}
    union all
    select
        invoice_id,
        product_id,
        amount
    from threshold_lines
    where line_type = 'threshold_usage'

),

invoice_adjustment_lines as (

    select * from {{ ref('int_invoice_adjustment_lines') }}

),

late_adjustment_lines as (

    select * from {{ ref('int_late_adjustment_lines') }}

),

taxed_invoices as (

    select
        contract_invoices.invoice_id,
        contract_invoices.terms_at,
        customers.tax_jurisdiction,
        currencies.minor_units
    from contract_invoices
    inner join customers
        on contract_invoices.customer_id = customers.customer_id
    inner join currencies
        on contract_invoices.currency = currencies.currency
    where customers.tax_jurisdiction is not null and not customers.is_tax_exempt

),

rates_in_force as (

    select
        taxed_invoices.invoice_id,
        tax_rates.tax_rate_id,
        tax_rates.product_id,
        tax_rates.rate
    from taxed_invoices
    inner join tax_rates
        on
            taxed_invoices.tax_jurisdiction = tax_rates.jurisdiction
            and {{ is_in_force_at_period_end('tax_rates.effective_from', 'tax_rates.effective_to',
                                             'taxed_invoices.terms_at') }}

),

product_subtotals as (

    select
        charge_lines.invoice_id,
        charge_lines.product_id,
        sum(charge_lines.amount) as subtotal_amount
    from charge_lines
    inner join taxed_invoices
        on charge_lines.invoice_id = taxed_invoices.invoice_id
    group by charge_lines.invoice_id, charge_lines.product_id

),

{# the invoice-level discounts, positive #}
invoice_discounts as (

    select
        invoice_id,
        -sum(amount) as discount_total
    from invoice_adjustment_lines
    where line_type = 'discount'
    group by invoice_id

),

discount_shares_rounded as (

    select
        product_subtotals.invoice_id,
        product_subtotals.product_id,
        product_subtotals.subtotal_amount,
        coalesce(invoice_discounts.discount_total, 0) as discount_total,
        case
            when sum(product_subtotals.subtotal_amount) over (partition by product_subtotals.invoice_id) > 0
                then {{ round_to_minor_units(
                    divide_truncated(
                        'coalesce(invoice_discounts.discount_total, 0) * product_subtotals.subtotal_amount',
                        'sum(product_subtotals.subtotal_amount) over (partition by product_subtotals.invoice_id)'
                    ),
                    'taxed_invoices.minor_units'
                ) }}
            else 0
        end as rounded_share,
        row_number() over (
            partition by product_subtotals.invoice_id
            order by product_subtotals.subtotal_amount desc, product_subtotals.product_id asc
        ) as size_rank
    from product_subtotals
    inner join taxed_invoices
        on product_subtotals.invoice_id = taxed_invoices.invoice_id
    left join invoice_discounts
        on product_subtotals.invoice_id = invoice_discounts.invoice_id

),

{# what rounding left over goes to the largest product, so the shares add up to the discounts #}
discount_shares as (

    select
        invoice_id,
        product_id,
        subtotal_amount,
        rounded_share
        + case
            when size_rank = 1 then discount_total - sum(rounded_share) over (partition by invoice_id)
            else 0
        end as discount_share
    from discount_shares_rounded

),

base_parts as (

    select
        invoice_id,
        product_id,
        subtotal_amount - discount_share as amount
    from discount_shares

    union all

    select
        late_adjustment_lines.invoice_id,
        late_adjustment_lines.product_id,
        late_adjustment_lines.amount
    from late_adjustment_lines
    inner join taxed_invoices
        on late_adjustment_lines.invoice_id = taxed_invoices.invoice_id

    union all

    select
        invoice_adjustment_lines.invoice_id,
        cast(null as {{ dbt.type_string() }}) as product_id,
        invoice_adjustment_lines.amount
    from invoice_adjustment_lines
    inner join taxed_invoices
        on invoice_adjustment_lines.invoice_id = taxed_invoices.invoice_id
    where invoice_adjustment_lines.line_type = 'commitment_true_up'

    union all

    {# what threshold invoices billed comes off the period invoice's all-products base (SPEC 6.2) #}
    select
        threshold_lines.invoice_id,
        cast(null as {{ dbt.type_string() }}) as product_id,
        threshold_lines.amount
    from threshold_lines
    inner join taxed_invoices
        on threshold_lines.invoice_id = taxed_invoices.invoice_id
    where threshold_lines.line_type = 'threshold_billed'

    union all

    select
        invoice_id,
        cast(null as {{ dbt.type_string() }}) as product_id,
        cast(0 as {{ exact_decimal_type() }}) as amount
    from taxed_invoices

),

bases as (

    select
        invoice_id,
        product_id,
        sum(amount) as taxable_base
    from base_parts
    group by invoice_id, product_id

),

final as (

    select
        bases.invoice_id,
        bases.product_id,
        coalesce(product_rates.tax_rate_id, general_rates.tax_rate_id) as tax_rate_id,
        cast(coalesce(product_rates.rate, general_rates.rate) as {{ exact_decimal_type() }}) as rate,
        cast(bases.taxable_base as {{ exact_decimal_type() }}) as taxable_base,
        taxed_invoices.minor_units
    from bases
    inner join taxed_invoices
        on bases.invoice_id = taxed_invoices.invoice_id
    left join rates_in_force as product_rates
        on
            bases.invoice_id = product_rates.invoice_id
            and bases.product_id = product_rates.product_id
    left join rates_in_force as general_rates
        on
            bases.invoice_id = general_rates.invoice_id
            and general_rates.product_id is null

)

select * from final
