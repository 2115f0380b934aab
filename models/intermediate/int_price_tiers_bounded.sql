{# Tier i covers quantities in (lower_bound, up_to]; lower_bound is the previous tier's up_to, 0 for tier 1. #}
with

tiers as (

    select * from {{ ref('stg_seed__price_tiers') }}

),

final as (

    select
        price_id,
        tier,
        coalesce(lag(up_to) over (partition by price_id order by tier), 0) as lower_bound,
        up_to,
        unit_price,
        flat_fee
    from tiers

)

select * from final
