{#
  Credit notes (SPEC 6.1): finance corrects a published invoice without changing it. A credit note
  names a published invoice by its number; the amount it credits (empty: the invoice's whole
  total_due) becomes one `credit_note` line (negative) on the customer's next invoice in the same
  currency that is not published yet, the same rule as balance_applied lines
  (int_balance_applied_lines). The line names what it corrects: adjusts_invoice_id is the credited
  invoice, adjusts_invoice_line_id the credit_note_id. One row per credit_note line.

  A credit note whose invoice is not published yet waits. Once the invoice carrying a credit note's
  line is published, the credit note is done: later runs do not add it again.
#}
with

billing_periods as (

    select * from {{ ref('int_contract_billing_periods') }}

),

credit_notes as (

    select * from {{ ref('stg_seed__credit_notes') }}

),

published_invoices as (

    {{ published_invoice_totals_or_empty() }}

),

published_lines as (

    {{ published_invoice_lines_or_empty() }}

),

{# credit notes whose line is already on a published invoice #}
applied_credit_notes as (

    select distinct adjusts_invoice_line_id as credit_note_id
    from published_lines
    where line_type = 'credit_note'

),

credited as (

    select
        credit_notes.credit_note_id,
        published_invoices.invoice_id as credited_invoice_id,
        published_invoices.customer_id,
        published_invoices.currency,
        published_invoices.period_start as credited_period_start,
        coalesce(credit_notes.amount, published_invoices.total_due) as credited_amount
    from credit_notes
    inner join published_invoices
        on credit_notes.invoice_number = published_invoices.invoice_number
    where not exists (
        select 1 from applied_credit_notes
        where applied_credit_notes.credit_note_id = credit_notes.credit_note_id
    )

),

{# the next invoice of the same customer and currency that is not published yet #}
next_invoices as (

    select
        credited.credit_note_id,
        credited.credited_invoice_id,
        credited.credited_amount,
        later.invoice_id,
        row_number() over (
            partition by credited.credit_note_id
            order by later.period_start, later.invoice_id
        ) as invoice_rank
    from credited
    inner join billing_periods as later
        on
            credited.customer_id = later.customer_id
            and credited.currency = later.currency
            and credited.credited_period_start < later.period_start
    where not exists (
        select 1 from published_invoices
        where published_invoices.invoice_id = later.invoice_id
    )

),

final as (

    select
        {{ dbt.hash("invoice_id || '|credit_note|' || credit_note_id") }} as invoice_line_id,
        invoice_id,
        'credit_note' as line_type,
        cast(-credited_amount as {{ exact_decimal_type() }}) as amount,
        credited_invoice_id,
        credit_note_id
    from next_invoices
    where invoice_rank = 1 and credited_amount <> 0

)

select * from final
