{{ config(materialized='view') }}
{#
  Problems in the rate_cards seed, one row per problem. A view: int_reference_data_errors reads it
  once, so a table would only be a copy.
#}
with

rate_cards as (

    select * from {{ ref('stg_seed__rate_cards') }}

),

currencies as (

    select * from {{ ref('stg_seed__currencies') }}

),

unknown_currency as (

    select
        'rate_cards' as seed_name,
        rate_card_id as row_key,
        'currency ' || coalesce(currency, 'null') || ' is not in currencies' as problem
    from rate_cards
    where
        not exists (
            select 1 from currencies
            where currencies.currency = rate_cards.currency
        )

),

final as (

    select * from unknown_currency

)

select * from final
