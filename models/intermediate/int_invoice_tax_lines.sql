{#
  The tax lines of the invoices of taxed customers (SPEC 6.2, decision 61): one row per invoice x tax
  rate that applies to one of its bases (int_invoice_taxable_bases), and always one for the
  all-products rate in force (0.00 when its base is 0). The amount is the rate times the sum of the
  bases at that rate, rounded to minor units half away from zero; quantity holds the base and
  unit_price the rate, so quantity x unit_price explains the line.
#}
with

taxable_bases as (

    select * from {{ ref('int_invoice_taxable_bases') }}
    where tax_rate_id is not null

),

billing_periods as (

    select * from {{ ref('int_contract_billing_periods') }}

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

{# the all-products rate of every taxed invoice, so that its line exists even with nothing to tax #}
general_rates as (

    select
        billing_periods.invoice_id,
        tax_rates.tax_rate_id,
        tax_rates.rate,
        currencies.minor_units
    from billing_periods
    inner join customers
        on billing_periods.customer_id = customers.customer_id
    inner join currencies
        on billing_periods.currency = currencies.currency
    inner join tax_rates
        on
            customers.tax_jurisdiction = tax_rates.jurisdiction
            and tax_rates.product_id is null
            and (tax_rates.effective_from is null or billing_periods.period_end > tax_rates.effective_from)
            and (tax_rates.effective_to is null or billing_periods.period_end <= tax_rates.effective_to)
    where not customers.is_tax_exempt

),

base_rows as (

    select
        invoice_id,
        tax_rate_id,
        rate,
        minor_units,
        taxable_base
    from taxable_bases

    union all

    select
        invoice_id,
        tax_rate_id,
        rate,
        minor_units,
        0 as taxable_base
    from general_rates

),

rate_bases as (

    select
        invoice_id,
        tax_rate_id,
        rate,
        minor_units,
        sum(taxable_base) as taxable_base
    from base_rows
    group by invoice_id, tax_rate_id, rate, minor_units

),

final as (

    select
        {{ dbt.hash("rate_bases.invoice_id || '|tax|' || rate_bases.tax_rate_id") }} as invoice_line_id,
        rate_bases.invoice_id,
        'tax' as line_type,
        rate_bases.tax_rate_id,
        {{ dbt.concat(["'Tax '", "tax_rates.jurisdiction", "' ('", "rate_bases.tax_rate_id", "')'"]) }} as product_name,
        cast(rate_bases.taxable_base as {{ exact_decimal_type() }}) as taxable_base,
        cast(rate_bases.rate as {{ exact_decimal_type() }}) as rate,
        cast(
            {{ round_to_minor_units('rate_bases.taxable_base * rate_bases.rate', 'rate_bases.minor_units') }}
            as {{ exact_decimal_type() }}
        ) as amount
    from rate_bases
    inner join tax_rates
        on rate_bases.tax_rate_id = tax_rates.tax_rate_id

)

select * from final
