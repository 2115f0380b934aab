with

source as (

    select * from {{ ref('currencies') }}

),

final as (

    select
        upper(trim(currency)) as currency,
        minor_units
    from source

)

select * from final
