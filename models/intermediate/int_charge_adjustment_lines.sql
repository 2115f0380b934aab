{#
  Step 3 of contract §5.1, per charge (invoice x product): the contract's price override (an `override`
  line for the difference after rounding the adjusted charge), then the charge's discounts one after
  another (`discount` lines), then the charge minimum prorated by days (`minimum_true_up`) and the
  charge maximum (`maximum_cap`). One row per adjustment line; charges without adjustments have none.
  Overrides and discounts apply to a period when they are in force on its first covered day
  (decision log).
#}
with recursive

charges as (

    select * from {{ ref('int_charges_rated') }}

),

contract_invoices as (

    select * from {{ ref('int_contract_invoices') }}

),

currencies as (

    select * from {{ ref('stg_seed__currencies') }}

),

charge_totals as (

    select
        charges.invoice_id,
        charges.product_id,
        max(charges.product_name) as product_name,
        {{ dbt.bool_or("charges.line_type = 'usage'") }} as is_usage_charge,
        sum(charges.amount) as charge_amount
    from charges
    group by charges.invoice_id, charges.product_id

),

charge_context as (

    select
        charge_totals.*,
        contract_invoices.contract_id,
        contract_invoices.rate_card_id,
        contract_invoices.coverage_starts_at,
        contract_invoices.coverage_ends_at,
        contract_invoices.covered_days,
        contract_invoices.period_days,
        currencies.minor_units,
        {{ dbt.hash("charge_totals.invoice_id || '|' || charge_totals.product_id") }} as chain_key
    from charge_totals
    inner join contract_invoices
        on charge_totals.invoice_id = contract_invoices.invoice_id
    inner join currencies
        on contract_invoices.currency = currencies.currency

),

{{ charge_terms_ctes('charge_context') }},

limited as (

    select
        overridden.*,
        after_discounts.amount_after_discounts,
        case
            when charge_limits.minimum_amount is null then cast(0 as {{ exact_decimal_type() }})
            else greatest(
                {{ prorated_and_rounded('charge_limits.minimum_amount', 'overridden.covered_days',
                                        'overridden.period_days', 'overridden.minor_units') }}
                - after_discounts.amount_after_discounts,
                0
            )
        end as minimum_true_up,
        charge_limits.maximum_amount
    from overridden
    inner join after_discounts
        on overridden.chain_key = after_discounts.chain_key
    left join charge_limits
        on overridden.chain_key = charge_limits.chain_key

),

capped as (

    select
        limited.*,
        case
            when limited.maximum_amount is null then cast(0 as {{ exact_decimal_type() }})
            else greatest(limited.amount_after_discounts + limited.minimum_true_up - limited.maximum_amount, 0)
        end as maximum_cap
    from limited

),

adjustment_lines as (

    select
        invoice_id,
        'override' as line_type,
        product_id,
        product_name,
        cast(null as {{ dbt.type_string() }}) as discount_id,
        multiplier as unit_price,
        amount_after_override - charge_amount as amount,
        0 as line_sequence
    from capped
    where multiplier is not null and amount_after_override <> charge_amount

    union all

    select
        capped.invoice_id,
        'discount' as line_type,
        capped.product_id,
        capped.product_name,
        discount_steps.discount_id,
        cast(null as {{ exact_decimal_type() }}) as unit_price,
        -discount_steps.discount_amount as amount,
        discount_steps.discount_order as line_sequence
    from capped
    inner join discount_steps
        on capped.chain_key = discount_steps.chain_key
    where discount_steps.discount_order > 0

    union all

    select
        invoice_id,
        'minimum_true_up' as line_type,
        product_id,
        product_name,
        cast(null as {{ dbt.type_string() }}) as discount_id,
        cast(null as {{ exact_decimal_type() }}) as unit_price,
        minimum_true_up as amount,
        0 as line_sequence
    from capped
    where minimum_true_up > 0

    union all

    select
        invoice_id,
        'maximum_cap' as line_type,
        product_id,
        product_name,
        cast(null as {{ dbt.type_string() }}) as discount_id,
        cast(null as {{ exact_decimal_type() }}) as unit_price,
        -maximum_cap as amount,
        0 as line_sequence
    from capped
    where maximum_cap > 0

),

final as (

    select
        {{ dbt.hash("invoice_id || '|' || line_type || '|' || product_id || '|' || coalesce(discount_id, '')") }}
            as invoice_line_id,
        invoice_id,
        line_type,
        product_id,
        product_name,
        discount_id,
        cast(unit_price as {{ exact_decimal_type() }}) as unit_price,
        cast(amount as {{ exact_decimal_type() }}) as amount,
        line_sequence
    from adjustment_lines

)

select * from final
