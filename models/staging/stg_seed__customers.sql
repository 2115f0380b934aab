with

source as (

    select * from {{ ref('customers') }}

),

final as (

    select
        customer_id,
        name as customer_name
    from source

)

select * from final
