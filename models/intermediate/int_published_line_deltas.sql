{#
  Delta rating (SPEC 6.1, contract §7.3): every published invoice is rated again, steps 1-5 of §5.1,
  with every accepted event and the terms of its own period (its overrides, discounts, minimums, caps
  and commitment), and each line is compared with what has been billed for it so far: the published
  line plus the adjustments published since. One row per published invoice x line key (line type,
  product, price row and dimension group, discount) whose amount differs; int_late_adjustment_lines
  bills the difference on the next invoice. Credits drawn on a published invoice are not compared:
  they stay as published.
#}
with

contract_invoices as (

    select * from {{ ref('int_contract_invoices') }}

),

{# the steps 1-5 lines of every invoice as rated now #}
current_lines as (

    select
        invoice_line_id,
        invoice_id,
        line_type,
        product_id,
        product_name,
        metric_id,
        dimensions,
        quantity,
        amount
    from {{ ref('int_charges_rated') }}

    union all

    select
        invoice_line_id,
        invoice_id,
        line_type,
        product_id,
        product_name,
        cast(null as {{ dbt.type_string() }}) as metric_id,
        '{}' as dimensions,
        cast(null as {{ exact_decimal_type() }}) as quantity,
        amount
    from {{ ref('int_charge_adjustment_lines') }}

    union all

    select
        invoice_line_id,
        invoice_id,
        line_type,
        product_id,
        product_name,
        cast(null as {{ dbt.type_string() }}) as metric_id,
        '{}' as dimensions,
        cast(null as {{ exact_decimal_type() }}) as quantity,
        amount
    from {{ ref('int_threshold_lines') }}

    union all

    select
        invoice_line_id,
        invoice_id,
        line_type,
        cast(null as {{ dbt.type_string() }}) as product_id,
        cast(null as {{ dbt.type_string() }}) as product_name,
        cast(null as {{ dbt.type_string() }}) as metric_id,
        '{}' as dimensions,
        cast(null as {{ exact_decimal_type() }}) as quantity,
        amount
    from {{ ref('int_invoice_adjustment_lines') }}

),

published_lines as (

    {{ published_invoice_lines_or_empty() }}

),

published_invoices as (

    {{ published_invoice_ids_or_empty() }}

),

{# the line types delta rating compares: those of steps 1-5 (seed invoice_line_types) #}
rated_line_types as (

    select distinct line_type
    from {{ ref('invoice_line_types') }}
    where rolls_into in ('subtotal', 'discount_total', 'commitment_true_up', 'threshold_billed')

),

{# what has been billed so far for each line of a published invoice: the line itself and its adjustments #}
billed as (

    select
        invoice_id,
        invoice_line_id,
        sum(amount) as billed_amount,
        sum(quantity) as billed_quantity
    from (
        select
            published_lines.invoice_id,
            published_lines.invoice_line_id,
            published_lines.amount,
            published_lines.quantity
        from published_lines
        inner join rated_line_types
            on published_lines.line_type = rated_line_types.line_type

        union all

        select
            adjusts_invoice_id as invoice_id,
            adjusts_invoice_line_id as invoice_line_id,
            amount,
            quantity
        from published_lines
        where line_type = 'adjustment'
    ) as billed_lines
    group by invoice_id, invoice_line_id

),

current_published as (

    select current_lines.*
    from current_lines
    inner join published_invoices
        on current_lines.invoice_id = published_invoices.invoice_id

),

{# what each line is, also for a published line that no longer exists (a minimum now met, a cap no longer reached) #}
line_info as (

    select
        invoice_line_id,
        max(line_type) as line_type,
        max(product_id) as product_id,
        max(product_name) as product_name,
        max(metric_id) as metric_id,
        max(dimensions) as dimensions
    from (
        select
            invoice_line_id,
            line_type,
            product_id,
            product_name,
            metric_id,
            dimensions
        from current_published
        union all
        select
            published_lines.invoice_line_id,
            published_lines.line_type,
            published_lines.product_id,
            published_lines.product_name,
            published_lines.metric_id,
            published_lines.dimensions
        from published_lines
        inner join rated_line_types
            on published_lines.line_type = rated_line_types.line_type
    ) as labelled_lines
    group by invoice_line_id

),

deltas as (

    select
        coalesce(current_published.invoice_id, billed.invoice_id) as adjusts_invoice_id,
        coalesce(current_published.invoice_line_id, billed.invoice_line_id) as adjusts_invoice_line_id,
        coalesce(billed.billed_amount, 0) as published_amount,
        coalesce(current_published.amount, 0) as current_amount,
        coalesce(current_published.quantity, 0) - coalesce(billed.billed_quantity, 0) as quantity
    from current_published
    full outer join billed
        on
            current_published.invoice_id = billed.invoice_id
            and current_published.invoice_line_id = billed.invoice_line_id
    where coalesce(current_published.amount, 0) <> coalesce(billed.billed_amount, 0)

),

final as (

    select
        deltas.adjusts_invoice_id,
        deltas.adjusts_invoice_line_id,
        line_info.line_type as corrected_line_type,
        contract_invoices.contract_id,
        contract_invoices.customer_id,
        contract_invoices.currency,
        contract_invoices.period_start,
        line_info.product_id,
        line_info.product_name,
        line_info.metric_id,
        coalesce(line_info.dimensions, '{}') as dimensions,
        {# a quantity only where the corrected line counts units (usage and recurring charges) #}
        cast(
            case when line_info.line_type in ('usage', 'recurring') then deltas.quantity end
            as {{ exact_decimal_type() }}
        ) as quantity,
        cast(deltas.published_amount as {{ exact_decimal_type() }}) as published_amount,
        cast(deltas.current_amount as {{ exact_decimal_type() }}) as current_amount,
        cast(deltas.current_amount - deltas.published_amount as {{ exact_decimal_type() }}) as amount
    from deltas
    inner join contract_invoices
        on deltas.adjusts_invoice_id = contract_invoices.invoice_id
    left join line_info
        on deltas.adjusts_invoice_line_id = line_info.invoice_line_id

)

select * from final
