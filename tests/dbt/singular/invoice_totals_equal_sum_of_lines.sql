{{ config(severity='warn', meta={'dagster': {'ref': {'name': 'invoices'}}}) }}
{#
  Per invoice (SPEC 6.1): a failing invoice is held (int_invoice_check_failures, invoice_holds) and
  this test warns; the other invoices publish.
  contract §6: total_due = subtotal - discount_total + commitment_true_up + adjustment_total
  + tax_total - threshold_billed - credits_applied = the sum of the invoice's lines. Returns every invoice where either equality fails.
#}
with

invoices as (

    select * from {{ ref('invoices') }}

),

line_sums as (

    select
        invoice_id,
        sum(amount) as sum_of_lines
    from {{ ref('invoice_lines') }}
    group by invoice_id

)

select
    invoices.invoice_id,
    invoices.total_due,
    coalesce(line_sums.sum_of_lines, 0) as sum_of_lines
from invoices
left join line_sums
    on invoices.invoice_id = line_sums.invoice_id
where
    invoices.total_due <> coalesce(line_sums.sum_of_lines, 0)
    or invoices.total_due
    <> invoices.subtotal - invoices.discount_total + invoices.commitment_true_up
    + invoices.adjustment_total + invoices.tax_total - invoices.threshold_billed - invoices.credits_applied
