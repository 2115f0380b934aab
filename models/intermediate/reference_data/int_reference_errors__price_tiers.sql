{{ config(materialized='view') }}
{#
  Problems in the price_tiers seed, one row per problem; a row is named "<price_id> tier <tier>". A
  view: int_reference_data_errors reads it once, so a table would only be a copy.
#}
with

tiers as (

    select * from {{ ref('stg_seed__price_tiers') }}

),

prices as (

    select * from {{ ref('int_prices_resolved') }}

),

{# each tier beside its expected number, its price's tier count and the previous tier's bound #}
tiers_numbered as (

    select
        tiers.*,
        tiers.price_id || ' tier ' || cast(tiers.tier as {{ dbt.type_string() }}) as row_key,
        row_number() over (partition by tiers.price_id order by tiers.tier) as expected_tier,
        count(*) over (partition by tiers.price_id) as tier_count,
        lag(tiers.up_to) over (partition by tiers.price_id order by tiers.tier) as previous_up_to
    from tiers

),

gap_in_numbering as (

    select
        'price_tiers' as seed_name,
        row_key,
        'tiers must be numbered 1, 2, 3, ... without gaps' as problem
    from tiers_numbered
    where tier <> expected_tier

),

bound_not_increasing as (

    select
        'price_tiers' as seed_name,
        row_key,
        'up_to must be strictly greater than the previous tier''s up_to' as problem
    from tiers_numbered
    where tier > 1 and (previous_up_to is null or up_to <= previous_up_to)

),

bound_not_positive as (

    select
        'price_tiers' as seed_name,
        row_key,
        'up_to must be positive' as problem
    from tiers_numbered
    where up_to <= 0

),

open_bound_before_last as (

    select
        'price_tiers' as seed_name,
        row_key,
        'only the last tier may have an empty up_to' as problem
    from tiers_numbered
    where up_to is null and expected_tier < tier_count

),

last_tier_bounded as (

    select
        'price_tiers' as seed_name,
        row_key,
        'the last tier must have an empty up_to so every quantity has a tier' as problem
    from tiers_numbered
    where up_to is not null and expected_tier = tier_count

),

negative_amounts as (

    select
        'price_tiers' as seed_name,
        row_key,
        'unit_price and flat_fee must not be negative' as problem
    from tiers_numbered
    where unit_price < 0 or flat_fee < 0

),

not_a_tiered_price as (

    select
        'price_tiers' as seed_name,
        row_key,
        'price_id is not a graduated or volume price in prices' as problem
    from tiers_numbered
    where not exists (
        select 1 from prices
        where prices.price_id = tiers_numbered.price_id and prices.pricing_model in ('graduated', 'volume')
    )

),

final as (

    select * from gap_in_numbering
    union all
    select * from bound_not_increasing
    union all
    select * from bound_not_positive
    union all
    select * from open_bound_before_last
    union all
    select * from last_tier_bounded
    union all
    select * from negative_amounts
    union all
    select * from not_a_tiered_price

)

select * from final
