{{ config(materialized='view') }}
{#
  Problems in the customers seed, one row per problem (SPEC 6.2). A view: int_reference_data_errors
  reads it once, so a table would only be a copy.
#}
with

customers as (

    select * from {{ ref('stg_seed__customers') }}

),

tax_rates as (

    select * from {{ ref('stg_seed__tax_rates') }}

),

{# a taxed customer needs its jurisdiction's all-products rate (a product rate alone leaves the rest untaxed) #}
jurisdiction_without_rate as (

    select
        'customers' as seed_name,
        customer_id as row_key,
        'tax_jurisdiction ' || tax_jurisdiction || ' has no all-products rate in tax_rates'
        || ' (set tax_exempt to true if the customer pays no tax)' as problem
    from customers
    where
        tax_jurisdiction is not null
        and not is_tax_exempt
        and not exists (
            select 1 from tax_rates
            where
                tax_rates.jurisdiction = customers.tax_jurisdiction
                and tax_rates.product_id is null
        )

),

final as (

    select * from jurisdiction_without_rate

)

select * from final
