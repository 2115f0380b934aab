{#
  An empty product_id means the rate applies to every product of the jurisdiction that has no rate of
  its own (SPEC 6.2). effective_from is inclusive, effective_to exclusive (empty = open).
#}
with

source as (

    select * from {{ ref('tax_rates') }}

),

final as (

    select
        tax_rate_id,
        trim(jurisdiction) as jurisdiction,
        nullif(trim(product_id), '') as product_id,
        rate,
        effective_from,
        effective_to
    from source

)

select * from final
