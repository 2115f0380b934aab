{#
  One hash per invoice (contract x billing period) of the reference data its amounts are rated under
  (int_invoice_reference_rows): md5 over the invoice's row texts, sorted first, so the order of seed
  rows does not matter. Compared with the hash recorded when the invoice was published
  (published_invoice_reference_data), it tells whether an edit of the seeds would rebill a published
  invoice (int_rebill_pending_invoices, SPEC 6.1).
#}
with

reference_rows as (

    select * from {{ ref('int_invoice_reference_rows') }}

),

final as (

    select
        invoice_id,
        md5({{ sorted_text_agg('row_text', "'\n'") }}) as reference_fingerprint,
        count(*) as reference_row_count
    from reference_rows
    group by invoice_id

)

select * from final
