{#
  split_part with a column position is the same function on DuckDB and Postgres (dbt.split_part
  needs a literal position).
#}
{# Each record represents one product a product-scoped credit grant applies to (its product_ids list). #}
with

grants as (

    select * from {{ ref('stg_seed__credit_grants') }}
    where product_ids is not null

),

positions as (

    select cast(generated_number as integer) as list_position
    from ({{ dbt.generate_series(20) }}) as numbers

),

final as (

    select distinct
        grants.grant_id,
        trim(split_part(grants.product_ids, ',', positions.list_position)) as product_id
    from grants
    cross join positions
    where trim(split_part(grants.product_ids, ',', positions.list_position)) <> ''

)

select * from final
