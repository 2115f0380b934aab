{{ config(materialized='view') }}
{#
  Problems in the currencies seed, one row per problem. A view: int_reference_data_errors reads it
  once, so a table would only be a copy.
#}
with

currencies as (

    select * from {{ ref('stg_seed__currencies') }}

),

{#
  round_to_minor_units (macros/money.sql) handles 0 to 4 places and the marts hold money as
  decimal(38, 4); no ISO 4217 currency has more than 4 minor units.
#}
minor_units_out_of_range as (

    select
        'currencies' as seed_name,
        currency as row_key,
        'minor_units must be between 0 and 4' as problem
    from currencies
    where minor_units is null or minor_units < 0 or minor_units > 4

),

final as (

    select * from minor_units_out_of_range

)

select * from final
