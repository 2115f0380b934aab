{#
  Where the corrections of a published invoice are billed: its customer's next invoice in the same
  currency that comes later (a later period start, or the same period start and a later kind: the
  period invoice after its opening invoice) and is not published yet; never a threshold invoice. One row per published invoice that has
  such an invoice; a published invoice without one has no row, and its corrections wait until one
  exists. Late-usage adjustments, carried balances and credit notes all use this one rule.
#}
with

contract_invoices as (

    select * from {{ ref('int_contract_invoices') }}

),

published_invoices as (

    {{ published_invoice_ids_or_empty() }}

),

published_periods as (

    select contract_invoices.*
    from contract_invoices
    inner join published_invoices
        on contract_invoices.invoice_id = published_invoices.invoice_id

),

unpublished_periods as (

    select contract_invoices.*
    from contract_invoices
    {# corrections land on an opening or period invoice, never on a threshold invoice (decision 66) #}
    where contract_invoices.invoice_kind <> 'threshold' and not exists (
        select 1 from published_invoices
        where published_invoices.invoice_id = contract_invoices.invoice_id
    )

),

ranked as (

    select
        published_periods.invoice_id as published_invoice_id,
        unpublished_periods.invoice_id as next_invoice_id,
        row_number() over (
            partition by published_periods.invoice_id
            order by unpublished_periods.period_start, unpublished_periods.kind_order, unpublished_periods.invoice_id
        ) as invoice_rank
    from published_periods
    inner join unpublished_periods
        on
            published_periods.customer_id = unpublished_periods.customer_id
            and published_periods.currency = unpublished_periods.currency
            and (
                published_periods.period_start < unpublished_periods.period_start
                or (
                    published_periods.period_start = unpublished_periods.period_start
                    and published_periods.kind_order < unpublished_periods.kind_order
                )
            )

),

final as (

    select
        published_invoice_id,
        next_invoice_id
    from ranked
    where invoice_rank = 1

)

select * from final
