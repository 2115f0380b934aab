{#
  Seats (SPEC 6.2): a recurring price that names a latest metric bills unit_price per seat. Each record
  is one accepted event of such a metric for the contract it belongs to: the seat count it sets and the
  count before it (by occurred_at, then event_id; 0 before the contract's first event), so that
  int_charges_rated can take the count in force at a period's start and bill each rise. One count per
  contract and metric: the metric's group_by dimensions are not used.
  Without any seats price the model is empty by construction, and the compile-time check lets the
  warehouse skip reading the events.
#}
{%- set prices_relation = load_relation(ref('int_prices_resolved')) if execute else none -%}
{%- set seats_prices = '1' if prices_relation is none else query_value_text(
    "select count(*) from " ~ prices_relation ~ " where charge_type = 'recurring' and metric_id is not null", '1'
) -%}
{%- set needed = 'true' if seats_prices | int > 0 else 'false' %}

with

seats_metrics as (

    select distinct metric_id
    from {{ ref('int_prices_resolved') }}
    where charge_type = 'recurring' and metric_id is not null

),

metric_values as (

    select metric_values.*
    from {{ ref('int_usage_event_metric_values') }} as metric_values
    inner join seats_metrics
        on metric_values.metric_id = seats_metrics.metric_id
    where {{ needed }}

),

accepted_events as (

    select * from {{ ref('int_usage_events_classified') }}
    where
        event_status = 'accepted'
        and {{ needed }}

),

seat_counts as (

    select
        accepted_events.contract_id,
        metric_values.metric_id,
        accepted_events.event_id,
        accepted_events.occurred_at,
        metric_values.metric_value as seats
    from metric_values
    inner join accepted_events
        on metric_values.raw_row_key = accepted_events.raw_row_key

),

final as (

    select
        contract_id,
        metric_id,
        event_id,
        occurred_at,
        seats,
        coalesce(
            lag(seats) over (partition by contract_id, metric_id order by occurred_at, event_id),
            cast(0 as {{ exact_decimal_type() }})
        ) as previous_seats
    from seat_counts

)

select * from final
