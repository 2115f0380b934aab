{{ config(materialized='view', post_hook='{{ fail_on_reference_data_errors() }}') }}
{#
  Problems in the rebill_approvals seed, one row per problem; a row is named "<contract_id>
  <period_start>". Unlike the other seeds' checks it reads the billing periods, which are built after
  int_reference_data_errors (a ref from there would be a cycle), so it fails the build itself with the
  same post-hook, naming every row; int_rebill_pending_invoices and everything after it wait for it.
#}
with

approvals as (

    select * from {{ ref('stg_seed__rebill_approvals') }}

),

contracts as (

    select * from {{ ref('stg_seed__contracts') }}

),

billing_periods as (

    select * from {{ ref('int_contract_billing_periods') }}

),

named as (

    select
        *,
        coalesce(contract_id, 'null') || ' ' || coalesce(cast(period_start as {{ dbt.type_string() }}), 'null')
            as row_key
    from approvals

),

unknown_contract as (

    select
        'rebill_approvals' as seed_name,
        row_key,
        'contract_id ' || coalesce(contract_id, 'null') || ' is not in contracts' as problem
    from named
    where
        not exists (
            select 1 from contracts
            where contracts.contract_id = named.contract_id
        )

),

no_billing_period as (

    select
        'rebill_approvals' as seed_name,
        row_key,
        'period_start is not the start of a billing period of contract ' || contract_id as problem
    from named
    where
        exists (
            select 1 from contracts
            where contracts.contract_id = named.contract_id
        )
        and not exists (
            select 1 from billing_periods
            where
                billing_periods.contract_id = named.contract_id
                and billing_periods.period_start = named.period_start
        )

),

missing_approver as (

    select
        'rebill_approvals' as seed_name,
        row_key,
        'approved_by must be set' as problem
    from named
    where approved_by is null

),

missing_reason as (

    select
        'rebill_approvals' as seed_name,
        row_key,
        'reason must be set' as problem
    from named
    where reason is null

),

final as (

    select * from unknown_contract
    union all
    select * from no_billing_period
    union all
    select * from missing_approver
    union all
    select * from missing_reason

)

select * from final
