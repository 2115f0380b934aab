{#
  What an edit of reference data would rebill (SPEC 6.1, decision 49): one row per published invoice x
  product whose amount under today's reference data differs from what has been billed for it so far,
  on an invoice whose reference data changed since it was published (int_rebill_changed_invoices).
  Lines of the whole invoice (an invoice discount, the commitment true-up) make the row with no
  product. 'awaiting approval': the difference is held, on no invoice, until a rebill_approvals row
  names the invoice. 'approved, billed on the next invoice': the difference is on the customer's next
  unpublished invoice as adjustment lines; once that invoice is published the difference is 0 and the
  row is gone. The difference includes late usage of the period, which waits with the edit.
#}
with

deltas as (

    select * from {{ ref('int_published_line_deltas') }}

),

changed_invoices as (

    select * from {{ ref('int_rebill_changed_invoices') }}

),

contract_invoices as (

    select * from {{ ref('int_contract_invoices') }}

),

per_product as (

    select
        deltas.adjusts_invoice_id as invoice_id,
        deltas.contract_id,
        deltas.customer_id,
        deltas.currency,
        deltas.period_start,
        deltas.product_id,
        max(deltas.product_name) as product_name,
        sum(deltas.published_amount) as published_amount,
        sum(deltas.current_amount) as current_amount,
        sum(deltas.amount) as difference
    from deltas
    inner join changed_invoices
        on deltas.adjusts_invoice_id = changed_invoices.invoice_id
    group by
        deltas.adjusts_invoice_id,
        deltas.contract_id,
        deltas.customer_id,
        deltas.currency,
        deltas.period_start,
        deltas.product_id

),

final as (

    select
        per_product.invoice_id,
        per_product.contract_id,
        per_product.customer_id,
        per_product.currency,
        per_product.period_start,
        contract_invoices.period_end,
        per_product.product_id,
        per_product.product_name,
        cast(per_product.published_amount as {{ money_type() }}) as published_amount,
        cast(per_product.current_amount as {{ money_type() }}) as current_amount,
        cast(per_product.difference as {{ money_type() }}) as difference,
        case
            when changed_invoices.is_held then 'awaiting approval'
            else 'approved, billed on the next invoice'
        end as status,
        changed_invoices.approved_by,
        changed_invoices.reason
    from per_product
    inner join changed_invoices
        on per_product.invoice_id = changed_invoices.invoice_id
    left join contract_invoices
        on per_product.invoice_id = contract_invoices.invoice_id
    where per_product.difference <> 0

)

select * from final
