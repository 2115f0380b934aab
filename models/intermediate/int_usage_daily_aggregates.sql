{{
    config(
        materialized='incremental',
        incremental_strategy=replace_strategy(),
        partition_by=spark_partition_by(['usage_date']),
        unique_key=['contract_id', 'usage_date'],
        indexes=postgres_indexes([['contract_id', 'usage_date']]),
    )
}}
{#
  Accepted usage summed up per contract, UTC day of occurred_at, metric and dimension group, so that
  rating reads one row per group and day instead of every event. unique_count metrics keep one row
  per distinct value (distinct_value), because a period's distinct count is not a sum of daily
  counts; latest metrics keep the day's last event (by occurred_at, then event_id).

  Incremental: a run finds the (contract, day) pairs its batch of newly accepted events falls on and
  recomputes exactly those pairs from all their accepted events (delete+insert on contract_id,
  usage_date; on Spark every contract of those days, overwriting the days' partitions: see
  replace_strategy in macros/usage_batches.sql). Events of a day are ingested no earlier than future_tolerance_hours before it, which
  bounds how far back the recomputation reads.

  Accepted usage is every metric value whose raw row the classification did not mark duplicate or
  quarantined. Those are few, so the events stream past a small lookup instead of being joined to the
  classification row for row (at 100M events that join spilled more than 40 GB; decision 37). The
  classification always covers the raw rows the metric values do: dbt builds both before this model.
#}
{%- set classified_relation = ref('int_usage_events_classified') -%}
{%- if is_incremental() -%}
    {%- set batch_condition = in_incremental_batch('ingested_at', 'newest_ingested_at') -%}
    {%- set first_touched_day = query_value_text(
        'select min(usage_date) from ' ~ classified_relation
        ~ " where event_status <> 'quarantined' and " ~ batch_condition,
        '9999-12-31'
    ) -%}
    {%- set read_from = dbt.dateadd('hour', -var('future_tolerance_hours'), timestamp_literal(first_touched_day)) -%}
{%- endif %}

with

{% if is_incremental() %}
    {#- duplicates too: a batch that reaches back to an unprocessed load can turn an accepted row of an
        earlier run into a duplicate, and its day must lose it -#}
    touched_days as (

        select distinct {{ recomputed_day_keys() | join(', ') }}
        from {{ classified_relation }}
        where
            event_status <> 'quarantined'
            and {{ batch_condition }}

    ),
{% endif %}

{# duplicates and quarantined rows: everything else the metric values hold is accepted usage #}
not_accepted as (

    select raw_row_key
    from {{ classified_relation }}
    where
        event_status <> 'accepted'
    {% if is_incremental() %}
        and ingested_at >= {{ read_from }}
    {% endif %}

),

{#
  not materialized: latest_of_day reads only the rows of latest metrics, and the warehouse can then
  filter those while reading instead of keeping every row of this CTE for the second reader.
#}
event_metric_values as {{ cte_hint('not materialized') }} (

    select
        metric_values.event_id,
        metric_values.customer_id,
        metric_values.contract_id,
        metric_values.occurred_at,
        metric_values.usage_date,
        metric_values.ingested_at,
        metric_values.metric_id,
        metric_values.aggregation,
        metric_values.metric_value,
        metric_values.dimension_value_1,
        metric_values.dimension_value_2,
        metric_values.dimension_value_3,
        metric_values.dimensions,
        case when metric_values.aggregation = 'unique_count' then metric_values.metric_value_text end
            as distinct_value
    from {{ ref('int_usage_event_metric_values') }} as metric_values
    {% if is_incremental() %}
        inner join touched_days
            on {{ join_on_keys('metric_values', 'touched_days', recomputed_day_keys()) }}
    {% endif %}
    left join not_accepted
        on metric_values.raw_row_key = not_accepted.raw_row_key
    where
        not_accepted.raw_row_key is null
    {% if is_incremental() %}
        and metric_values.ingested_at >= {{ read_from }}
    {% endif %}

),

latest_of_day as (

    select
        contract_id,
        usage_date,
        metric_id,
        dimensions,
        metric_value as latest_value,
        occurred_at as latest_occurred_at,
        event_id as latest_event_id
    from (
        select
            contract_id,
            usage_date,
            metric_id,
            dimensions,
            metric_value,
            occurred_at,
            event_id,
            row_number() over (
                partition by contract_id, usage_date, metric_id, dimensions
                order by occurred_at desc, event_id desc
            ) as recency_rank
        from event_metric_values
        where aggregation = 'latest'
    ) as ranked
    where recency_rank = 1

),

aggregated as (

    select
        contract_id,
        customer_id,
        usage_date,
        metric_id,
        aggregation,
        dimension_value_1,
        dimension_value_2,
        dimension_value_3,
        dimensions,
        distinct_value,
        count(*) as event_count,
        sum(metric_value) as value_sum,
        max(metric_value) as value_max,
        min(occurred_at) as first_occurred_at,
        max(occurred_at) as last_occurred_at,
        max(ingested_at) as newest_ingested_at
    from event_metric_values
    group by
        contract_id,
        customer_id,
        usage_date,
        metric_id,
        aggregation,
        dimension_value_1,
        dimension_value_2,
        dimension_value_3,
        dimensions,
        distinct_value

),

final as (

    select
        aggregated.contract_id,
        aggregated.customer_id,
        aggregated.usage_date,
        aggregated.metric_id,
        aggregated.aggregation,
        aggregated.dimension_value_1,
        aggregated.dimension_value_2,
        aggregated.dimension_value_3,
        aggregated.dimensions,
        aggregated.distinct_value,
        aggregated.event_count,
        cast(aggregated.value_sum as {{ exact_decimal_type() }}) as value_sum,
        cast(aggregated.value_max as {{ exact_decimal_type() }}) as value_max,
        cast(latest_of_day.latest_value as {{ exact_decimal_type() }}) as latest_value,
        latest_of_day.latest_occurred_at,
        latest_of_day.latest_event_id,
        aggregated.first_occurred_at,
        aggregated.last_occurred_at,
        aggregated.newest_ingested_at,
        {{ recomputed_at_stamp() }} as recomputed_at
    from aggregated
    left join latest_of_day
        on
            aggregated.contract_id = latest_of_day.contract_id
            and aggregated.usage_date = latest_of_day.usage_date
            and aggregated.metric_id = latest_of_day.metric_id
            and aggregated.dimensions = latest_of_day.dimensions

)

select * from final
