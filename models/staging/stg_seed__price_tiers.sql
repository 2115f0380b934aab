with

source as (

    select * from {{ ref('price_tiers') }}

),

final as (

    select
        price_id,
        tier,
        up_to,
        unit_price,
        coalesce(flat_fee, 0) as flat_fee
    from source

)

select * from final
