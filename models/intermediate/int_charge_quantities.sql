{#
  The billable quantity of each usage charge line: one row per invoice (contract x billing period) x
  price row x dimension group, from the three steps named by quantity_source:
  - events: the metric's aggregation over the period's accepted events (int_charge_quantities_from_events);
  - carried_forward: a latest-value metric without events in the period keeps its last value
    (int_charge_quantities_carried_forward);
  - zero_usage: a charge with nothing at all is rated at q = 0 on its fallback (dimension-less) price
    row (int_charge_quantities_zero_usage).
#}
with

{# the quantity columns only: the model's incremental bookkeeping stays out of the union #}
quantities_from_events as (

    select
        invoice_id,
        contract_id,
        price_id,
        product_id,
        metric_id,
        dimensions,
        event_count,
        quantity,
        quantity_source
    from {{ ref('int_charge_quantities_from_events') }}

),

quantities_carried_forward as (

    select * from {{ ref('int_charge_quantities_carried_forward') }}

),

quantities_zero_usage as (

    select * from {{ ref('int_charge_quantities_zero_usage') }}

),

all_quantities as (

    select * from quantities_from_events
    union all
    select * from quantities_carried_forward
    union all
    select * from quantities_zero_usage

),

final as (

    select
        invoice_id,
        contract_id,
        price_id,
        product_id,
        metric_id,
        dimensions,
        event_count,
        cast(quantity as {{ exact_decimal_type() }}) as quantity,
        quantity_source
    from all_quantities

)

select * from final
