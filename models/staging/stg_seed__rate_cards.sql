with

source as (

    select * from {{ ref('rate_cards') }}

),

final as (

    select
        rate_card_id,
        name as rate_card_name,
        upper(trim(currency)) as currency
    from source

)

select * from final
