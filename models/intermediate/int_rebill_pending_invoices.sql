{#
  Published invoices whose reference data changed since publication and that no approval covers: one
  row per such invoice (SPEC 6.1). Its re-rated differences (int_published_line_deltas) are held, not
  billed, until a rebill_approvals row names it; rebilling_preview shows them.

  Changed: today's fingerprint (int_invoice_reference_fingerprints) differs from the one recorded when
  it was published (published_invoice_reference_data), or its billing period is gone (a contract edit).
  Covered: an approval of that invoice first seen under today's fingerprint
  (int_rebill_approval_fingerprints); an approval seen under other reference data covers nothing now.
  An invoice with no recorded fingerprint (published before fingerprints were recorded) is not held:
  the next publication records today's as its baseline (decision 49).
#}
with

published_fingerprints as (

    {{ published_reference_fingerprints_or_empty() }}

),

current_fingerprints as (

    select * from {{ ref('int_invoice_reference_fingerprints') }}

),

approvals as (

    select * from {{ ref('int_rebill_approval_fingerprints') }}

),

changed as (

    select
        published_fingerprints.invoice_id,
        published_fingerprints.reference_fingerprint as published_fingerprint,
        current_fingerprints.reference_fingerprint as current_fingerprint
    from published_fingerprints
    left join current_fingerprints
        on published_fingerprints.invoice_id = current_fingerprints.invoice_id
    where
        current_fingerprints.reference_fingerprint is null
        or current_fingerprints.reference_fingerprint <> published_fingerprints.reference_fingerprint

),

final as (

    select
        invoice_id,
        published_fingerprint,
        current_fingerprint
    from changed
    where not exists (
        select 1
        from approvals
        where
            approvals.invoice_id = changed.invoice_id
            and approvals.reference_fingerprint = changed.current_fingerprint
    )

)

select * from final
