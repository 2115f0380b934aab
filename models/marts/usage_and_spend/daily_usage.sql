{#
  Accepted usage per customer, contract, metric, dimension group and UTC day of occurred_at (SPEC 6.3),
  priced or not: quantity is the metric's aggregation over that day alone (a count, a sum, the day's
  largest value, its distinct values, or the value of its last event) and event_count the accepted
  events behind it. A period's quantity is not always the sum of its days (max, unique_count, latest):
  daily_spend says what each day added to the bill.
#}
with

daily_aggregates as (

    select * from {{ ref('int_usage_daily_aggregates') }}

),

final as (

    select
        customer_id,
        contract_id,
        metric_id,
        aggregation,
        dimensions,
        usage_date,
        cast(
            case aggregation
                when 'count' then sum(event_count)
                when 'sum' then sum(value_sum)
                when 'max' then max(value_max)
                when 'unique_count' then count(distinct distinct_value)
                when 'latest' then max(latest_value)
            end as {{ exact_decimal_type() }}
        ) as quantity,
        cast(sum(event_count) as {{ dbt.type_bigint() }}) as event_count
    from daily_aggregates
    group by customer_id, contract_id, metric_id, aggregation, dimensions, usage_date

)

select * from final
