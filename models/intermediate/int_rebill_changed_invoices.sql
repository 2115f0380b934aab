{#
  Published invoices whose reference data changed since publication (SPEC 6.1): one row per such
  invoice, with the approval that covers today's reference data, if any. Changed: today's fingerprint
  (int_invoice_reference_fingerprints) differs from the one recorded when it was published
  (published_invoice_reference_data), or its billing period is gone (a contract edit). Covered: an
  approval of that invoice first seen under today's fingerprint (int_rebill_approval_fingerprints); an
  approval seen under other reference data covers nothing now (one-shot, decision 49). Not covered:
  is_held, and its re-rated differences wait (int_rebill_pending_invoices).

  An invoice with no recorded fingerprint (published before fingerprints were recorded) is not here:
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

{# the first approval seen under today's reference data (several rows may name the same invoice) #}
covering_approvals as (

    select
        changed.invoice_id,
        approvals.rebill_approval_id,
        approvals.approved_by,
        approvals.reason,
        row_number() over (
            partition by changed.invoice_id
            order by approvals.first_seen_at, approvals.rebill_approval_id
        ) as approval_rank
    from changed
    inner join approvals
        on
            changed.invoice_id = approvals.invoice_id
            and changed.current_fingerprint = approvals.reference_fingerprint

),

final as (

    select
        changed.invoice_id,
        changed.published_fingerprint,
        changed.current_fingerprint,
        covering_approvals.rebill_approval_id,
        covering_approvals.approved_by,
        covering_approvals.reason,
        covering_approvals.rebill_approval_id is null as is_held
    from changed
    left join covering_approvals
        on
            changed.invoice_id = covering_approvals.invoice_id
            and covering_approvals.approval_rank = 1

)

select * from final
