{#
  The tax lines of the invoices of taxed customers (SPEC 6.2, decision 61): one row per invoice x tax
  rate that applies to one of its bases (int_invoice_taxable_bases), so always one for the
  all-products rate in force, whose base row every taxed invoice has (0.00 when that base is 0).
  The amount is the rate times the sum of the bases at that rate, rounded to minor units half away
  from zero; quantity holds the base and unit_price the rate, so quantity x unit_price explains it.
#}
with

taxable_bases as (

    select * from {{ ref('int_invoice_taxable_bases') }}
    where tax_rate_id is not null

),

tax_rates as (

    select * from {{ ref('stg_seed__tax_rates') }}

),

rate_bases as (

    select
        invoice_id,
        tax_rate_id,
        rate,
        minor_units,
        sum(taxable_base) as taxable_base
    from taxable_bases
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
