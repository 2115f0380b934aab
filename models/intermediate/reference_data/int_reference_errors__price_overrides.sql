{{ config(materialized='view') }}
{#
  Problems in the price_overrides seed, one row per problem; a row is named "<contract_id>
  <product_id>", with * for an override of every product. A view: int_reference_data_errors reads it
  once, so a table would only be a copy.
#}
with

overrides as (

    select * from {{ ref('stg_seed__price_overrides') }}

),

contracts as (

    select * from {{ ref('stg_seed__contracts') }}

),

prices as (

    select * from {{ ref('int_prices_resolved') }}

),

unknown_contract as (

    select
        'price_overrides' as seed_name,
        contract_id || ' ' || coalesce(product_id, '*') as row_key,
        'contract_id ' || coalesce(contract_id, 'null') || ' is not in contracts' as problem
    from overrides
    where
        not exists (
            select 1 from contracts
            where contracts.contract_id = overrides.contract_id
        )

),

product_without_price as (

    select
        'price_overrides' as seed_name,
        contract_id || ' ' || product_id as row_key,
        'product_id ' || product_id || ' has no price' as problem
    from overrides
    where
        product_id is not null
        and not exists (
            select 1 from prices
            where prices.product_id = overrides.product_id
        )

),

invalid_multiplier as (

    select
        'price_overrides' as seed_name,
        contract_id || ' ' || coalesce(product_id, '*') as row_key,
        'multiplier must be set and not negative' as problem
    from overrides
    where multiplier is null or multiplier < 0

),

final as (

    select * from unknown_contract
    union all
    select * from product_without_price
    union all
    select * from invalid_multiplier

)

select * from final
