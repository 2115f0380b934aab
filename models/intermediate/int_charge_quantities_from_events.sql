{#
  Step 1 of a charge's period quantity: the quantity of each invoice (contract x billing period) x
  price row x dimension group that has accepted, priced events in the period, by the metric's
  aggregation over the period's daily groups (int_usage_daily_price_matches).
#}
with

priced_usage as (

    select * from {{ ref('int_usage_daily_price_matches') }}
    where is_priced

),

daily_aggregates as (

    select * from {{ ref('int_usage_daily_aggregates') }}

),

{# count, sum, max: the daily groups add up (max of the days' maxima) #}
summed as (

    select
        invoice_id,
        contract_id,
        price_id,
        product_id,
        metric_id,
        aggregation,
        dimensions,
        sum(event_count) as event_count,
        case aggregation
            when 'count' then cast(sum(event_count) as {{ exact_decimal_type() }})
            when 'sum' then cast(sum(value_sum) as {{ exact_decimal_type() }})
            when 'max' then cast(max(value_max) as {{ exact_decimal_type() }})
        end as summed_quantity
    from priced_usage
    group by invoice_id, contract_id, price_id, product_id, metric_id, aggregation, dimensions

),

{# unique_count: distinct values across the whole period, never a sum of the days' counts #}
distinct_counts as (

    select
        priced_usage.invoice_id,
        priced_usage.price_id,
        priced_usage.dimensions,
        count(distinct daily_aggregates.distinct_value) as distinct_count
    from priced_usage
    inner join daily_aggregates
        on
            priced_usage.contract_id = daily_aggregates.contract_id
            and priced_usage.usage_date = daily_aggregates.usage_date
            and priced_usage.metric_id = daily_aggregates.metric_id
            and priced_usage.dimensions = daily_aggregates.dimensions
    where priced_usage.aggregation = 'unique_count'
    group by priced_usage.invoice_id, priced_usage.price_id, priced_usage.dimensions

),

{# latest: the value of the period's last event, ties on occurred_at broken by the higher event_id #}
latest_ranked as (

    select
        invoice_id,
        price_id,
        dimensions,
        latest_value,
        row_number() over (
            partition by invoice_id, price_id, dimensions
            order by latest_occurred_at desc, latest_event_id desc
        ) as recency_rank
    from priced_usage
    where aggregation = 'latest'

),

latest_values as (

    select
        invoice_id,
        price_id,
        dimensions,
        latest_value
    from latest_ranked
    where recency_rank = 1

),

{# unique_count reads its distinct count; latest (no summed quantity) the value of the last event #}
final as (

    select
        summed.invoice_id,
        summed.contract_id,
        summed.price_id,
        summed.product_id,
        summed.metric_id,
        summed.dimensions,
        summed.event_count,
        cast(
            coalesce(
                case
                    when summed.aggregation = 'unique_count'
                        then cast(distinct_counts.distinct_count as {{ exact_decimal_type() }})
                    else summed.summed_quantity
                end,
                latest_values.latest_value
            ) as {{ exact_decimal_type() }}
        ) as quantity,
        'events' as quantity_source
    from summed
    left join distinct_counts
        on
            summed.invoice_id = distinct_counts.invoice_id
            and summed.price_id = distinct_counts.price_id
            and summed.dimensions = distinct_counts.dimensions
    left join latest_values
        on
            summed.invoice_id = latest_values.invoice_id
            and summed.price_id = latest_values.price_id
            and summed.dimensions = latest_values.dimensions

)

select * from final
