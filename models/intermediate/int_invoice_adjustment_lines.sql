{#
  Steps 4 and 5 of contract §5.1, per invoice (contract x billing period x kind): the subtotal of every
  line so far, the invoice-level discounts one after another (`discount` lines without a product), and
  the minimum commitment true-up, prorated by covered days / period days (`commitment_true_up`). An
  opening invoice (fees in advance, SPEC 6.2) takes percentage discounts only, and no commitment: an
  amount discount and the commitment belong to the period, so its period invoice has them, once. A
  threshold invoice takes neither.
  One row per adjustment line.
#}
with recursive

contract_invoices as (

    select * from {{ ref('int_contract_invoices') }}

),

contracts as (

    select * from {{ ref('stg_seed__contracts') }}

),

currencies as (

    select * from {{ ref('stg_seed__currencies') }}

),

discounts as (

    select * from {{ ref('stg_seed__discounts') }}
    where product_id is null

),

{# the lines of steps 1-3: charges and their per-charge adjustments #}
charge_lines as (

    select
        invoice_id,
        line_type,
        product_id,
        amount
    from {{ ref('int_charges_rated') }}
    union all
    select
        invoice_id,
        line_type,
        product_id,
        amount
    from {{ ref('int_charge_adjustment_lines') }}

),

{# the subtotal (step 4) is the same rule invoices uses: the lines whose type rolls into it #}
charge_line_totals as (

    {{ invoice_totals_from_lines('charge_lines') }}

),

subtotals as (

    select
        contract_invoices.invoice_id,
        contract_invoices.contract_id,
        contract_invoices.invoice_kind,
        contract_invoices.coverage_starts_at,
        contract_invoices.covered_days,
        contract_invoices.period_days,
        currencies.minor_units,
        coalesce(charge_line_totals.subtotal, 0) as subtotal
    from contract_invoices
    inner join currencies
        on contract_invoices.currency = currencies.currency
    left join charge_line_totals
        on contract_invoices.invoice_id = charge_line_totals.invoice_id

),

discount_bases as (

    select
        invoice_id as chain_key,
        subtotal as base_amount,
        minor_units
    from subtotals

),

chain_discounts as (

    select
        subtotals.invoice_id as chain_key,
        discounts.discount_id,
        discounts.discount_type,
        discounts.discount_value,
        row_number() over (partition by subtotals.invoice_id order by discounts.discount_id) as discount_order
    from subtotals
    inner join discounts
        on
            subtotals.contract_id = discounts.contract_id
            and {{ is_in_force('discounts.starts_at', 'discounts.ends_at', 'subtotals.coverage_starts_at') }}
            {# a fixed amount is taken once per period, on its period invoice; a percentage on every invoice #}
            and (subtotals.invoice_kind = 'period' or discounts.discount_type = 'percent')
            {# a threshold invoice bills usage after charge terms only (SPEC 6.2) #}
            and subtotals.invoice_kind <> 'threshold'

),

{{ discount_steps_cte('discount_bases', 'chain_discounts') }},

after_discounts as (

    select
        chain_key as invoice_id,
        min(running_amount) as amount_after_discounts
    from discount_steps
    group by chain_key

),

commitments as (

    select
        subtotals.invoice_id,
        greatest(
            {{ prorated_and_rounded('contracts.minimum_commitment', 'subtotals.covered_days',
                                    'subtotals.period_days', 'subtotals.minor_units') }}
            - after_discounts.amount_after_discounts,
            0
        ) as commitment_true_up
    from subtotals
    inner join contracts
        on subtotals.contract_id = contracts.contract_id
    inner join after_discounts
        on subtotals.invoice_id = after_discounts.invoice_id
    {# the commitment is the period's: only its period invoice sees the whole period #}
    where contracts.minimum_commitment is not null and subtotals.invoice_kind = 'period'

),

adjustment_lines as (

    select
        chain_key as invoice_id,
        'discount' as line_type,
        discount_id,
        -discount_amount as amount,
        discount_order as line_sequence
    from discount_steps
    where discount_order > 0

    union all

    select
        invoice_id,
        'commitment_true_up' as line_type,
        cast(null as {{ dbt.type_string() }}) as discount_id,
        commitment_true_up as amount,
        0 as line_sequence
    from commitments
    where commitment_true_up > 0

),

final as (

    select
        {{ dbt.hash("invoice_id || '|' || line_type || '|' || coalesce(discount_id, '')") }} as invoice_line_id,
        invoice_id,
        line_type,
        discount_id,
        cast(amount as {{ exact_decimal_type() }}) as amount,
        line_sequence
    from adjustment_lines

)

select * from final
