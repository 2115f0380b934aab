{{ config(materialized='view') }}
{#
  Problems in the tax_rates seed, one row per problem (SPEC 6.2). A view: int_reference_data_errors
  reads it once, so a table would only be a copy.
#}
with

tax_rates as (

    select * from {{ ref('stg_seed__tax_rates') }}

),

prices as (

    select * from {{ ref('int_prices_resolved') }}

),

missing_jurisdiction as (

    select
        'tax_rates' as seed_name,
        tax_rate_id as row_key,
        'jurisdiction must be set' as problem
    from tax_rates
    where jurisdiction is null or jurisdiction = ''

),

invalid_rate as (

    select
        'tax_rates' as seed_name,
        tax_rate_id as row_key,
        'rate must be a fraction from 0 to 1 (0.21 = 21 %)' as problem
    from tax_rates
    where rate is null or rate < 0 or rate > 1

),

dates_out_of_order as (

    select
        'tax_rates' as seed_name,
        tax_rate_id as row_key,
        'effective_to must be after effective_from' as problem
    from tax_rates
    where effective_to <= effective_from

),

product_without_price as (

    select
        'tax_rates' as seed_name,
        tax_rate_id as row_key,
        'product_id ' || product_id || ' has no price' as problem
    from tax_rates
    where
        product_id is not null
        and not exists (
            select 1 from prices
            where prices.product_id = tax_rates.product_id
        )

),

{# two rates of one jurisdiction and product (or both all-products) whose spans overlap #}
overlapping as (

    select
        'tax_rates' as seed_name,
        earlier.tax_rate_id as row_key,
        'in force at the same time as ' || later.tax_rate_id || ' for jurisdiction ' || earlier.jurisdiction
        || ' and ' || coalesce('product ' || earlier.product_id, 'all products') as problem
    from tax_rates as earlier
    inner join tax_rates as later
        on
            earlier.jurisdiction = later.jurisdiction
            and coalesce(earlier.product_id, '') = coalesce(later.product_id, '')
            and earlier.tax_rate_id < later.tax_rate_id
            and {{ effective_ranges_overlap('earlier', 'later') }}

),

final as (

    select * from missing_jurisdiction
    union all
    select * from invalid_rate
    union all
    select * from dates_out_of_order
    union all
    select * from product_without_price
    union all
    select * from overlapping

)

select * from final
