{{ config(severity='warn', meta={'dagster': {'ref': {'name': 'invoice_lines'}}}) }}
{#
  Per invoice (SPEC 6.1): a failing invoice is held (int_invoice_check_failures, invoice_holds) and
  this test warns; the other invoices publish.
  Every invoice line has a type the seed invoice_line_types knows, for its scope (a product's line or
  the whole invoice's), and its amount points the way that type says: charges and true-ups add,
  discounts, caps and credits subtract, overrides and late adjustments may go either way.
  One failing row per offending line, with the reason.
#}
with

invoice_lines as (

    select * from {{ ref('invoice_lines') }}

),

line_types as (

    select * from {{ ref('invoice_line_types') }}

),

checked as (

    select
        invoice_lines.invoice_line_id,
        invoice_lines.invoice_id,
        invoice_lines.line_type,
        invoice_lines.product_id,
        invoice_lines.amount,
        case
            when line_types.line_type is null
                then 'line type not in invoice_line_types for its scope'
            when line_types.amount_sign = 'positive_or_zero' and invoice_lines.amount < 0
                then 'negative amount on a line type that only adds'
            when line_types.amount_sign = 'negative_or_zero' and invoice_lines.amount > 0
                then 'positive amount on a line type that only subtracts'
        end as problem
    from invoice_lines
    left join line_types
        on
            invoice_lines.line_type = line_types.line_type
            and line_types.line_scope = {{ line_scope('invoice_lines.product_id') }}

)

select * from checked
where problem is not null
