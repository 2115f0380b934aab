{{ config(materialized='view') }}
{#
  Problems in the discounts seed, one row per problem. A view: int_reference_data_errors reads it
  once, so a table would only be a copy.
#}
with

discounts as (

    select * from {{ ref('stg_seed__discounts') }}

),

contracts as (

    select * from {{ ref('stg_seed__contracts') }}

),

prices as (

    select * from {{ ref('int_prices_resolved') }}

),

unknown_contract as (

    select
        'discounts' as seed_name,
        discount_id as row_key,
        'contract_id ' || coalesce(contract_id, 'null') || ' is not in contracts' as problem
    from discounts
    where
        not exists (
            select 1 from contracts
            where contracts.contract_id = discounts.contract_id
        )

),

product_without_price as (

    select
        'discounts' as seed_name,
        discount_id as row_key,
        'product_id ' || product_id || ' has no price' as problem
    from discounts
    where
        product_id is not null
        and not exists (
            select 1 from prices
            where prices.product_id = discounts.product_id
        )

),

unknown_discount_type as (

    select
        'discounts' as seed_name,
        discount_id as row_key,
        'discount_type must be percent or amount, got ' || coalesce(discount_type, 'null') as problem
    from discounts
    where discount_type is null or discount_type not in ('percent', 'amount')

),

invalid_value as (

    select
        'discounts' as seed_name,
        discount_id as row_key,
        'value must be set and not negative (a percent is a fraction: 0.10 = 10 %)' as problem
    from discounts
    where discount_value is null or discount_value < 0 or (discount_type = 'percent' and discount_value > 1)

),

final as (

    select * from unknown_contract
    union all
    select * from product_without_price
    union all
    select * from unknown_discount_type
    union all
    select * from invalid_value

)

select * from final
