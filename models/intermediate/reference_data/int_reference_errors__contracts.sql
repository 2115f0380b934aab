{{ config(materialized='view') }}
{#
  Problems in the contracts seed, one row per problem. A view: int_reference_data_errors reads it
  once, so a table would only be a copy.
#}
with

contracts as (

    select * from {{ ref('stg_seed__contracts') }}

),

rate_cards as (

    select * from {{ ref('stg_seed__rate_cards') }}

),

customers as (

    select * from {{ ref('stg_seed__customers') }}

),

currencies as (

    select * from {{ ref('stg_seed__currencies') }}

),

currency_differs_from_rate_card as (

    select
        'contracts' as seed_name,
        contracts.contract_id as row_key,
        'currency ' || coalesce(contracts.currency, 'null') || ' differs from rate card '
        || contracts.rate_card_id || ' currency ' || rate_cards.currency as problem
    from contracts
    inner join rate_cards
        on contracts.rate_card_id = rate_cards.rate_card_id
    where contracts.currency is null or contracts.currency <> rate_cards.currency

),

unknown_rate_card as (

    select
        'contracts' as seed_name,
        contract_id as row_key,
        'rate_card_id ' || coalesce(rate_card_id, 'null') || ' is not in rate_cards' as problem
    from contracts
    where
        not exists (
            select 1 from rate_cards
            where rate_cards.rate_card_id = contracts.rate_card_id
        )

),

unknown_customer as (

    select
        'contracts' as seed_name,
        contract_id as row_key,
        'customer_id ' || coalesce(customer_id, 'null') || ' is not in customers' as problem
    from contracts
    where
        not exists (
            select 1 from customers
            where customers.customer_id = contracts.customer_id
        )

),

unknown_currency as (

    select
        'contracts' as seed_name,
        contract_id as row_key,
        'currency ' || coalesce(currency, 'null') || ' is not in currencies' as problem
    from contracts
    where
        not exists (
            select 1 from currencies
            where currencies.currency = contracts.currency
        )

),

unknown_billing_period as (

    select
        'contracts' as seed_name,
        contract_id as row_key,
        'billing_period must be monthly, quarterly or annual, got ' || billing_period as problem
    from contracts
    where billing_period not in ('monthly', 'quarterly', 'annual')

),

unknown_billing_anchor as (

    select
        'contracts' as seed_name,
        contract_id as row_key,
        'billing_anchor must be calendar or anniversary, got ' || billing_anchor as problem
    from contracts
    where billing_anchor not in ('calendar', 'anniversary')

),

term_not_after_start as (

    select
        'contracts' as seed_name,
        contract_id as row_key,
        'needs starts_at, and ends_at (if set) after starts_at' as problem
    from contracts
    where starts_at is null or ends_at <= starts_at

),

negative_commitment as (

    select
        'contracts' as seed_name,
        contract_id as row_key,
        'minimum_commitment must not be negative' as problem
    from contracts
    where minimum_commitment < 0

),

negative_payment_terms as (

    select
        'contracts' as seed_name,
        contract_id as row_key,
        'payment_terms_days must not be negative' as problem
    from contracts
    where payment_terms_days < 0

),

{# one customer's contracts must not overlap: every event must belong to exactly one contract #}
overlapping_contracts as (

    select
        'contracts' as seed_name,
        first_contract.contract_id as row_key,
        'overlaps contract ' || second_contract.contract_id
        || ' of the same customer' as problem
    from contracts as first_contract
    inner join contracts as second_contract
        on
            first_contract.customer_id = second_contract.customer_id
            and first_contract.contract_id < second_contract.contract_id
            and (first_contract.ends_at is null or first_contract.ends_at > second_contract.starts_at)
            and (second_contract.ends_at is null or first_contract.starts_at < second_contract.ends_at)

),

final as (

    select * from currency_differs_from_rate_card
    union all
    select * from unknown_rate_card
    union all
    select * from unknown_customer
    union all
    select * from unknown_currency
    union all
    select * from unknown_billing_period
    union all
    select * from unknown_billing_anchor
    union all
    select * from term_not_after_start
    union all
    select * from negative_commitment
    union all
    select * from negative_payment_terms
    union all
    select * from overlapping_contracts

)

select * from final
