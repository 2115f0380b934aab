{#
  An empty tax_jurisdiction means the project computes no tax for the customer; an empty tax_exempt
  means not exempt (SPEC 6.2, decision 61).
#}
with

source as (

    select * from {{ ref('customers') }}

),

final as (

    select
        customer_id,
        name as customer_name,
        nullif(trim(tax_jurisdiction), '') as tax_jurisdiction,
        coalesce(tax_exempt, false) as is_tax_exempt
    from source

)

select * from final
