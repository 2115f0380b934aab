{# An empty product_id means the override applies to every usage charge of the contract. #}
with

source as (

    select * from {{ ref('price_overrides') }}

),

final as (

    select
        {{ dbt.hash("contract_id || '|' || coalesce(product_id, '*') || '|' || coalesce(cast(effective_from as "
            ~ dbt.type_string() ~ "), '')") }} as price_override_id,
        contract_id,
        nullif(trim(product_id), '') as product_id,
        multiplier,
        effective_from,
        effective_to
    from source

)

select * from final
