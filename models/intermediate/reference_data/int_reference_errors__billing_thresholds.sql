{{ config(materialized='view') }}
{#
  Problems in the billing_thresholds seed, one row per problem (SPEC 6.2). The seed has no id column:
  a row is named by its contract and amount. A view: int_reference_data_errors reads it once.
#}
with

thresholds as (

    select
        *,
        cast(cast(amount_due as decimal(38, 4)) as {{ dbt.type_string() }}) as amount_text
    from {{ ref('stg_seed__billing_thresholds') }}

),

contracts as (

    select * from {{ ref('stg_seed__contracts') }}

),

amount_not_positive as (

    select
        'billing_thresholds' as seed_name,
        coalesce(contract_id, '(no contract_id)') as row_key,
        'amount_due must be greater than 0, got ' || coalesce(amount_text, 'nothing') as problem
    from thresholds
    where amount_due is null or amount_due <= 0

),

unknown_contract as (

    select
        'billing_thresholds' as seed_name,
        coalesce(thresholds.contract_id, '(no contract_id)') as row_key,
        'contract_id is not in contracts' as problem
    from thresholds
    where not exists (
        select 1 from contracts
        where contracts.contract_id = thresholds.contract_id
    )

),

repeated_row as (

    select
        'billing_thresholds' as seed_name,
        max(contract_id) as row_key,
        'the threshold of ' || max(amount_text) || ' is listed ' || cast(count(*) as {{ dbt.type_string() }})
        || ' times' as problem
    from thresholds
    group by billing_threshold_id
    having count(*) > 1

),

final as (

    select * from amount_not_positive
    union all
    select * from unknown_contract
    union all
    select * from repeated_row

)

select * from final
