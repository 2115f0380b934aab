{# product_ids is a comma-separated list; empty means the grant applies to the whole invoice. #}
with

source as (

    select * from {{ ref('credit_grants') }}

),

final as (

    select
        grant_id,
        contract_id,
        lower(trim(grant_type)) as grant_type,
        amount,
        nullif(trim(product_ids), '') as product_ids,
        coalesce(priority, 0) as priority,
        starts_at,
        expires_at
    from source

)

select * from final
