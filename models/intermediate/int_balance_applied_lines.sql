{#
  Balances carried between invoices (SPEC 6.1, as Stripe's customer balance): a published invoice whose
  lines summed below zero was published with total_due 0 and a `balance_carried` line for the
  difference. That amount is drawn first, before credits, on the customer's next invoice in the same
  currency that is not published yet: one `balance_applied` line (negative) per carried balance.
  One row per balance_applied line.

  Only published balances move: an unpublished invoice's own balance_carried line is recomputed on
  every run, and what it carries is fixed when it is published.
#}
with

billing_periods as (

    select * from {{ ref('int_contract_billing_periods') }}

),

published_lines as (

    {{ published_invoice_lines_or_empty() }}

),

published_invoices as (

    {{ published_invoice_ids_or_empty() }}

),

carried as (

    select
        invoice_id as carried_from_invoice_id,
        invoice_line_id as carried_from_line_id,
        sum(amount) as carried_amount
    from published_lines
    where line_type = 'balance_carried'
    group by invoice_id, invoice_line_id

),

{# the next invoice of the same customer and currency that is not published yet #}
next_invoices as (

    select
        carried.carried_from_invoice_id,
        carried.carried_from_line_id,
        carried.carried_amount,
        later.invoice_id,
        row_number() over (
            partition by carried.carried_from_line_id
            order by later.period_start, later.invoice_id
        ) as invoice_rank
    from carried
    inner join billing_periods as source_period
        on carried.carried_from_invoice_id = source_period.invoice_id
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
        {{ dbt.hash("invoice_id || '|balance_applied|' || carried_from_line_id") }} as invoice_line_id,
        invoice_id,
        'balance_applied' as line_type,
        cast(-carried_amount as {{ exact_decimal_type() }}) as amount,
        carried_from_invoice_id,
        carried_from_line_id
    from next_invoices
    where invoice_rank = 1 and carried_amount <> 0

)

select * from final
