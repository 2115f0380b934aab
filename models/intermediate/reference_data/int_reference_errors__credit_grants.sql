{{ config(materialized='view') }}
{#
  Problems in the credit_grants seed, one row per problem. A view: int_reference_data_errors reads it
  once, so a table would only be a copy.
#}
with

grants as (

    select * from {{ ref('stg_seed__credit_grants') }}

),

grant_products as (

    select * from {{ ref('int_credit_grant_products') }}

),

contracts as (

    select * from {{ ref('stg_seed__contracts') }}

),

currencies as (

    select * from {{ ref('stg_seed__currencies') }}

),

prices as (

    select * from {{ ref('int_prices_resolved') }}

),

unknown_contract as (

    select
        'credit_grants' as seed_name,
        grant_id as row_key,
        'contract_id ' || coalesce(contract_id, 'null') || ' is not in contracts' as problem
    from grants
    where
        not exists (
            select 1 from contracts
            where contracts.contract_id = grants.contract_id
        )

),

unknown_grant_type as (

    select
        'credit_grants' as seed_name,
        grant_id as row_key,
        'grant_type must be prepaid or promotional, got ' || coalesce(grant_type, 'null') as problem
    from grants
    where grant_type is null or grant_type not in ('prepaid', 'promotional')

),

invalid_amount as (

    select
        'credit_grants' as seed_name,
        grant_id as row_key,
        'amount must be set and not negative' as problem
    from grants
    where amount is null or amount < 0

),

{#
  A grant's balance is money: it can become a credit line of exactly that amount on an invoice of the
  contract's currency, and credit_ledger holds balances as money (decimal(38, 4)). So a grant must be
  a whole number of that currency's minor units. A grant of an unknown contract or currency is
  reported by another check, and so is a currency outside 0..4 minor units (round_to_minor_units
  gives null there, so this comparison reports nothing).
#}
amount_finer_than_minor_units as (

    select
        'credit_grants' as seed_name,
        grants.grant_id as row_key,
        'amount must be a whole number of ' || currencies.currency || ' minor units ('
        || cast(currencies.minor_units as {{ dbt.type_string() }}) || ' decimal places)' as problem
    from grants
    inner join contracts
        on grants.contract_id = contracts.contract_id
    inner join currencies
        on contracts.currency = currencies.currency
    where grants.amount <> {{ round_to_minor_units('grants.amount', 'currencies.minor_units') }}

),

expiry_not_after_start as (

    select
        'credit_grants' as seed_name,
        grant_id as row_key,
        'expires_at must be after starts_at' as problem
    from grants
    where expires_at <= starts_at

),

product_without_price as (

    select
        'credit_grants' as seed_name,
        grant_products.grant_id as row_key,
        'product_ids names ' || grant_products.product_id
        || ', which has no price' as problem
    from grant_products
    where
        not exists (
            select 1 from prices
            where prices.product_id = grant_products.product_id
        )

),

final as (

    select * from unknown_contract
    union all
    select * from unknown_grant_type
    union all
    select * from invalid_amount
    union all
    select * from amount_finer_than_minor_units
    union all
    select * from expiry_not_after_start
    union all
    select * from product_without_price

)

select * from final
