{#
  Every line of every invoice, draft or ready: one row per invoice x line (a charge's price row and
  dimension group, or later an adjustment). Contract-level adjustments (overrides, discounts,
  minimums, commitments, credits) slot in here as their own line types.
#}
with

charges as (

    select * from {{ ref('int_charges_rated') }}

),

final as (

    select
        invoice_line_id,
        invoice_id,
        contract_id,
        customer_id,
        currency,
        line_type,
        price_id,
        product_id,
        product_name,
        metric_id,
        pricing_model,
        dimensions,
        quantity,
        event_count,
        unit_price,
        amount,
        service_period_start,
        service_period_end,
        cast(null as {{ dbt.type_string() }}) as grant_id
    from charges

)

select * from final
