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

published_lines as (

    {{ published_invoice_lines_or_empty() }}

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

next_invoices as (

    select * from {{ ref('int_next_unpublished_invoices') }}

),

final as (

    select
        {{ dbt.hash("next_invoices.next_invoice_id || '|balance_applied|' || carried.carried_from_line_id") }}
            as invoice_line_id,
        next_invoices.next_invoice_id as invoice_id,
        'balance_applied' as line_type,
        cast(-carried.carried_amount as {{ exact_decimal_type() }}) as amount,
        carried.carried_from_invoice_id,
        carried.carried_from_line_id
    from carried
    inner join next_invoices
        on carried.carried_from_invoice_id = next_invoices.published_invoice_id
    where carried.carried_amount <> 0

)

select * from final
