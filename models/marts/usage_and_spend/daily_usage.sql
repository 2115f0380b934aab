{{
    config(
        materialized='incremental',
        incremental_strategy=replace_strategy(),
        partition_by=spark_partition_by(['usage_date']),
        unique_key=['contract_id', 'usage_date'],
        on_schema_change='append_new_columns',
        indexes=postgres_indexes([['contract_id', 'usage_date']]),
        pre_hook="{{ delete_all_rows_when_source_rebuilt(ref('int_usage_daily_aggregates')) }}",
    )
}}
{#
  Accepted usage per customer, contract, metric, dimension group and UTC day of occurred_at (SPEC 6.3),
  priced or not: quantity is the metric's aggregation over that day alone (a count, a sum, the day's
  largest value, its distinct values, or the value of its last event) and event_count the accepted
  events behind it. A period's quantity is not always the sum of its days (max, unique_count, latest):
  daily_spend says what each day added to the bill.

  Incremental on (contract, day), like int_usage_daily_aggregates, which it reshapes: a run recomputes
  the (contract, day) pairs whose daily aggregates were recomputed since its previous run (their
  recomputed_at is newer than the source_recomputed_at it holds; macros/usage_spend.sql), from all
  their rows. On Spark every contract of those days, overwriting the days' partitions. After a full
  refresh of the daily aggregates every row is recomputed (the pre-hook first empties the table).
#}
{%- set aggregates_relation = ref('int_usage_daily_aggregates') -%}
{%- set source_stamp = newest_recomputed_at(aggregates_relation) -%}

with

{% if is_incremental() %}
    recomputed_days as (

        select distinct {{ recomputed_day_keys() | join(', ') }}
        from {{ aggregates_relation }}
        where recomputed_at > {{ caught_up_to() }}

    ),

    daily_aggregates as (

        select daily.*
        from {{ aggregates_relation }} as daily
        inner join recomputed_days
            on {{ join_on_keys('daily', 'recomputed_days', recomputed_day_keys()) }}

    ),
{% else %}
    daily_aggregates as (

        select * from {{ aggregates_relation }}

    ),
{% endif %}

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
        cast(sum(event_count) as {{ dbt.type_bigint() }}) as event_count,
        {{ source_stamp }} as source_recomputed_at
    from daily_aggregates
    group by customer_id, contract_id, metric_id, aggregation, dimensions, usage_date

)

select * from final
