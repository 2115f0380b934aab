{#
  Credit notes (SPEC 6.1): finance corrects a published invoice without changing it. A credit note
  names a published invoice by its number; the amount it credits (empty: the invoice's whole
  total_due) becomes one `credit_note` line (negative) on the customer's next invoice in the same
  currency that is not published yet, the same rule as late-usage
  adjustments and carried balances (int_next_unpublished_invoices). The line names what it corrects: adjusts_invoice_id is the credited
  invoice, adjusts_invoice_line_id the credit_note_id. One row per credit_note line.

  A credit note whose invoice is not published yet waits. Once the invoice carrying a credit note's
  line is published, the credit note is done: later runs do not add it again.
#}
with

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
        coalesce(credit_notes.amount, published_invoices.total_due) as credited_amount
    from credit_notes
    inner join published_invoices
        on credit_notes.invoice_number = published_invoices.invoice_number
    where not exists (
        select 1 from applied_credit_notes
        where applied_credit_notes.credit_note_id = credit_notes.credit_note_id
    )

),

next_invoices as (

    select * from {{ ref('int_next_unpublished_invoices') }}

),

final as (

    select
        {{ dbt.hash("next_invoices.next_invoice_id || '|credit_note|' || credited.credit_note_id") }}
            as invoice_line_id,
        next_invoices.next_invoice_id as invoice_id,
        'credit_note' as line_type,
        cast(-credited.credited_amount as {{ exact_decimal_type() }}) as amount,
        credited.credited_invoice_id,
        credited.credit_note_id
    from credited
    inner join next_invoices
        on credited.credited_invoice_id = next_invoices.published_invoice_id
    where credited.credited_amount <> 0

)

select * from final
