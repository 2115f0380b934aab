{#
  Delta rating of late events (contract §7.3): every published invoice is rated again with every accepted
  event; each charge line (price row x dimension group) whose amount now differs from what was
  published, less what earlier adjustments already billed, becomes an `adjustment` line with the
  original service period on the customer's next unpublished invoice in the same currency. One row
  per adjustment line. Only charge lines are compared (contract §7.3: "per charge and dimension group"):
  the published invoice's overrides, discounts, minimums and commitment stand as published
  (decision log). Credits drawn on a published invoice also stay as published (int_credit_draws);
  the next invoice's credits may absorb the adjustment, its commitment does not count it.
#}
with

billing_periods as (

    select * from {{ ref('int_contract_billing_periods') }}

),

{# the charge lines (usage and recurring, per price row and dimension group) as rated now #}
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

),

published_lines as (

    {{ published_invoice_lines_or_empty() }}

),

published_invoices as (

    {{ published_invoice_ids_or_empty() }}

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
            invoice_id,
            invoice_line_id,
            amount,
            quantity
        from published_lines
        where line_type in ('usage', 'recurring')

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

{# labels of each line, also for a published line that no longer exists (e.g. a minimum now met) #}
line_info as (

    select
        invoice_line_id,
        max(product_id) as product_id,
        max(product_name) as product_name,
        max(metric_id) as metric_id,
        max(dimensions) as dimensions
    from (
        select
            invoice_line_id,
            product_id,
            product_name,
            metric_id,
            dimensions
        from current_published
        union all
        select
            invoice_line_id,
            product_id,
            product_name,
            metric_id,
            dimensions
        from published_lines
        where line_type in ('usage', 'recurring')
    ) as labelled_lines
    group by invoice_line_id

),

deltas as (

    select
        coalesce(current_published.invoice_id, billed.invoice_id) as adjusts_invoice_id,
        coalesce(current_published.invoice_line_id, billed.invoice_line_id) as adjusts_invoice_line_id,
        coalesce(current_published.amount, 0) - coalesce(billed.billed_amount, 0) as amount,
        coalesce(current_published.quantity, 0) - coalesce(billed.billed_quantity, 0) as quantity
    from current_published
    full outer join billed
        on
            current_published.invoice_id = billed.invoice_id
            and current_published.invoice_line_id = billed.invoice_line_id
    where coalesce(current_published.amount, 0) <> coalesce(billed.billed_amount, 0)

),

{# the next invoice of the same customer and currency that is not published yet #}
next_invoices as (

    select
        deltas.adjusts_invoice_id,
        later.invoice_id,
        row_number() over (
            partition by deltas.adjusts_invoice_id, deltas.adjusts_invoice_line_id
            order by later.period_start, later.invoice_id
        ) as invoice_rank,
        deltas.adjusts_invoice_line_id
    from deltas
    inner join billing_periods as source_period
        on deltas.adjusts_invoice_id = source_period.invoice_id
    inner join billing_periods as later
        on
            source_period.customer_id = later.customer_id
            and source_period.currency = later.currency
            and source_period.period_start < later.period_start
    where not exists (
        select 1 from published_invoices
        where published_invoices.invoice_id = later.invoice_id
    )

),

final as (

    select
        {{ dbt.hash("next_invoices.invoice_id || '|adjustment|' || deltas.adjusts_invoice_line_id") }}
            as invoice_line_id,
        next_invoices.invoice_id,
        'adjustment' as line_type,
        line_info.product_id,
        line_info.product_name,
        line_info.metric_id,
        coalesce(line_info.dimensions, '{}') as dimensions,
        cast(deltas.quantity as {{ exact_decimal_type() }}) as quantity,
        cast(deltas.amount as {{ exact_decimal_type() }}) as amount,
        deltas.adjusts_invoice_id,
        deltas.adjusts_invoice_line_id,
        source_period.coverage_starts_at as service_period_start,
        source_period.coverage_ends_at as service_period_end
    from deltas
    inner join next_invoices
        on
            deltas.adjusts_invoice_id = next_invoices.adjusts_invoice_id
            and deltas.adjusts_invoice_line_id = next_invoices.adjusts_invoice_line_id
            and next_invoices.invoice_rank = 1
    inner join billing_periods as source_period
        on deltas.adjusts_invoice_id = source_period.invoice_id
    left join line_info
        on deltas.adjusts_invoice_line_id = line_info.invoice_line_id

)

select * from final
