{#
  Published invoices whose reference data changed since publication and that no approval covers (SPEC
  6.1): one row per such invoice (int_rebill_changed_invoices, is_held). Its re-rated differences
  (int_published_line_deltas), late usage included, are held, not billed, until a rebill_approvals row
  names it; rebilling_preview shows them as awaiting approval.
#}
with

changed_invoices as (

    select * from {{ ref('int_rebill_changed_invoices') }}

),

final as (

    select
        invoice_id,
        published_fingerprint,
        current_fingerprint
    from changed_invoices
    where is_held

)

select * from final
