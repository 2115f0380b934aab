{{ config(meta={'dagster': {'ref': {'name': 'published_invoices'}}}) }}
{# Every published invoice's total equals the sum of its published lines, and no line is orphaned. #}
with

published_invoices as (

    select * from {{ ref('published_invoices') }}

),

line_sums as (

    select
        invoice_id,
        sum(amount) as sum_of_lines
    from {{ ref('published_invoice_lines') }}
    group by invoice_id

)

select
    coalesce(published_invoices.invoice_id, line_sums.invoice_id) as invoice_id,
    published_invoices.total_due,
    line_sums.sum_of_lines
from published_invoices
full outer join line_sums
    on published_invoices.invoice_id = line_sums.invoice_id
where
    published_invoices.invoice_id is null
    or (line_sums.invoice_id is null and published_invoices.line_count > 0)
    or published_invoices.total_due <> coalesce(line_sums.sum_of_lines, 0)
