{#
  Empty strings in the seed mean "not set"; package_rounding defaults to up (contract §3), billing_timing
  to arrears (SPEC 6.2). The seed's
  interval column is fee_interval here: interval is a keyword in SQL, quoted where it is read.
#}
with

source as (

    select * from {{ ref('prices') }}

),

final as (

    select
        price_id,
        nullif(trim(rate_card_id), '') as rate_card_id,
        nullif(trim(contract_id), '') as contract_id,
        product_id,
        product_name,
        lower(trim(charge_type)) as charge_type,
        nullif(trim(metric_id), '') as metric_id,
        lower(trim(pricing_model)) as pricing_model,
        unit_price,
        flat_amount,
        package_size,
        coalesce(nullif(lower(trim(package_rounding)), ''), 'up') as package_rounding,
        free_units,
        percentage_rate,
        fixed_fee_per_event,
        min_per_event,
        max_per_event,
        coalesce(nullif(trim(dimensions), ''), '{}') as dimensions,
        minimum_amount,
        maximum_amount,
        coalesce(prorate, false) as is_prorated,
        prorate is null as is_prorate_unset,
        nullif(lower(trim({{ adapter.quote('interval') }})), '') as fee_interval,
        coalesce(nullif(lower(trim(billing_timing)), ''), 'arrears') as billing_timing,
        effective_from,
        effective_to
    from source

)

select * from final
