{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        full_refresh=false,
        tags=['rebilling'],
    )
}}
-- depends_on: {{ ref('int_reference_errors__rebill_approvals') }}
{#
  What each rebill approval covers: one row per row of the rebill_approvals seed, with the fingerprint
  of its invoice's reference data (int_invoice_reference_fingerprints) when a run first read the row,
  and that run's as_of. Append-only and kept through full refreshes (full_refresh = false): an
  approval is one-shot, it approves the reference data in force when it was first seen, and a later
  edit of the same invoice's reference data needs a new row (SPEC 6.1, decision 49). Rows with a
  reference-data problem never get here (int_reference_errors__rebill_approvals fails the build first).
#}
with

approvals as (

    select * from {{ ref('stg_seed__rebill_approvals') }}

),

contract_invoices as (

    select * from {{ ref('int_contract_invoices') }}

),

fingerprints as (

    select * from {{ ref('int_invoice_reference_fingerprints') }}

),

{% if is_incremental() %}
known as (

    select rebill_approval_id from {{ this }}

),
{% else %}
    known as (

        select cast(null as {{ dbt.type_string() }}) as rebill_approval_id
        where 1 = 0

    ),
{% endif %}

final as (

    select
        approvals.rebill_approval_id,
        contract_invoices.invoice_id,
        approvals.contract_id,
        approvals.period_start,
        approvals.approved_by,
        approvals.reason,
        fingerprints.reference_fingerprint,
        {{ as_of() }} as first_seen_at
    from approvals
    inner join contract_invoices
        on
            approvals.contract_id = contract_invoices.contract_id
            and approvals.period_start = contract_invoices.period_start
    inner join fingerprints
        on contract_invoices.invoice_id = fingerprints.invoice_id
    where not exists (
        select 1
        from known
        where known.rebill_approval_id = approvals.rebill_approval_id
    )

)

select * from final
