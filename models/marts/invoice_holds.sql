{#
  The ready invoices that publication holds back, and why (SPEC §6.1): one row per invoice x failed
  per-invoice check (int_invoice_check_failures), for invoices not yet published. The gated
  publication step approves every other ready invoice; a held invoice is published by the first run
  after its check passes again. Reasons name the offending lines or usage (the first few, sorted).
#}
with

failures as (

    select * from {{ ref('int_invoice_check_failures') }}
    where status = 'ready'

),

first_holds as (

    select * from {{ ref('int_invoice_first_holds') }}

),

published_invoices as (

    {{ published_invoice_ids_or_empty() }}

),

per_check as (

    select
        invoice_id,
        contract_id,
        customer_id,
        period_start,
        check_name,
        count(*) as failure_count,
        min(reason) as first_reason
    from failures
    group by invoice_id, contract_id, customer_id, period_start, check_name

),

final as (

    select
        per_check.invoice_id,
        per_check.contract_id,
        per_check.customer_id,
        per_check.period_start,
        per_check.check_name,
        per_check.first_reason
        || case
            when per_check.failure_count > 1
                then ' (and ' || cast(per_check.failure_count - 1 as {{ dbt.type_string() }}) || ' more)'
            else ''
        end as reason,
        cast(per_check.failure_count as bigint) as failure_count,
        coalesce(first_holds.first_held_at, {{ as_of() }}) as first_held_at
    from per_check
    left join first_holds
        on
            per_check.invoice_id = first_holds.invoice_id
            and per_check.check_name = first_holds.check_name
    where not exists (
        select 1
        from published_invoices
        where published_invoices.invoice_id = per_check.invoice_id
    )

)

select * from final
