{# An empty product_id means the discount applies to the invoice subtotal (contract §5.1 step 4). #}
with

source as (

    select * from {{ ref('discounts') }}

),

final as (

    select
        discount_id,
        contract_id,
        nullif(trim(product_id), '') as product_id,
        lower(trim(discount_type)) as discount_type,
        value as discount_value,
        starts_at,
        ends_at
    from source

)

select * from final
