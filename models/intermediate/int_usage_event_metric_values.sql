{{
    config(
        materialized='incremental',
        incremental_strategy=replace_strategy(),
        partition_by=spark_partition_by(['ingestion_date']),
        unique_key=['raw_row_key', 'metric_id'],
        indexes=postgres_indexes([['raw_row_key'], ['ingested_at']]),
    )
}}
{#
  What each raw row means to each metric it feeds: the value, whether the value is usable, and the
  dimension values of the metric's group_by keys. Computed once per raw row (incremental); the
  classification reads the validity flags, the rating reads the values. Each row also carries its
  event's id, customer, contract in force and day, so the daily aggregation needs from the
  classification only the few rows that were not accepted (decision 37).
#}
with

batch as (

    {{ raw_usage_batch() }}

),

contracts as (

    select * from {{ ref('stg_seed__contracts') }}

),

metrics as (

    select * from {{ ref('stg_seed__billable_metrics') }}

),

{# distinct: an allowed value listed twice must not match an event twice #}
metric_filters as (

    select distinct
        metric_id,
        filter_position,
        filter_property,
        allowed_value
    from {{ ref('int_billable_metric_filters') }}

),

metric_filter_properties as (

    select
        metric_id,
        max(case when filter_position = 1 then filter_property end) as filter_property_1,
        max(case when filter_position = 2 then filter_property end) as filter_property_2,
        max(case when filter_position = 3 then filter_property end) as filter_property_3
    from metric_filters
    group by metric_id

),

candidate_pairs as (

    select
        batch.raw_row_key,
        batch.ingested_at,
        batch.event_id,
        batch.customer_id,
        batch.occurred_at,
        contracts.contract_id,
        batch.properties,
        metrics.metric_id,
        metrics.aggregation,
        metrics.value_property,
        metrics.group_by_key_1,
        metrics.group_by_key_2,
        metrics.group_by_key_3,
        metric_filter_properties.filter_property_1,
        metric_filter_properties.filter_property_2,
        metric_filter_properties.filter_property_3
    from batch
    inner join metrics
        on batch.event_type = metrics.event_type
    left join metric_filter_properties
        on metrics.metric_id = metric_filter_properties.metric_id
    left join contracts
        on {{ contract_in_force('batch', 'contracts') }}
    where batch.properties is not null

),

{#
  A pair applies when each filtered property of its metric holds an allowed value: one lookup per
  position in the small filter table, never an aggregation over the events (which spilled gigabytes
  at 100M rows; decision log).
#}
applicable_pairs as (

    select candidate_pairs.*
    from candidate_pairs
    left join metric_filters as allowed_1
        on
            candidate_pairs.metric_id = allowed_1.metric_id
            and allowed_1.filter_position = 1
            and {{ json_get_text('candidate_pairs.properties', 'candidate_pairs.filter_property_1') }}
            = allowed_1.allowed_value
    left join metric_filters as allowed_2
        on
            candidate_pairs.metric_id = allowed_2.metric_id
            and allowed_2.filter_position = 2
            and {{ json_get_text('candidate_pairs.properties', 'candidate_pairs.filter_property_2') }}
            = allowed_2.allowed_value
    left join metric_filters as allowed_3
        on
            candidate_pairs.metric_id = allowed_3.metric_id
            and allowed_3.filter_position = 3
            and {{ json_get_text('candidate_pairs.properties', 'candidate_pairs.filter_property_3') }}
            = allowed_3.allowed_value
    where
        (candidate_pairs.filter_property_1 is null or allowed_1.metric_id is not null)
        and (candidate_pairs.filter_property_2 is null or allowed_2.metric_id is not null)
        and (candidate_pairs.filter_property_3 is null or allowed_3.metric_id is not null)

),

extracted as (

    select
        raw_row_key,
        ingested_at,
        event_id,
        customer_id,
        contract_id,
        occurred_at,
        metric_id,
        aggregation,
        {{ json_get_decimal('properties', 'value_property') }} as metric_value,
        {{ json_get_text('properties', 'value_property') }} as metric_value_text,
        group_by_key_1,
        group_by_key_2,
        group_by_key_3,
        {{ json_get_text('properties', 'group_by_key_1') }} as dimension_value_1,
        {{ json_get_text('properties', 'group_by_key_2') }} as dimension_value_2,
        {{ json_get_text('properties', 'group_by_key_3') }} as dimension_value_3
    from applicable_pairs

),

final as (

    select
        raw_row_key,
        ingested_at,
        cast({{ dbt.date_trunc('day', 'ingested_at') }} as date) as ingestion_date,
        event_id,
        customer_id,
        contract_id,
        occurred_at,
        cast({{ dbt.date_trunc('day', 'occurred_at') }} as date) as usage_date,
        metric_id,
        aggregation,
        metric_value,
        metric_value_text,
        dimension_value_1,
        dimension_value_2,
        dimension_value_3,
        {{ dimensions_json('group_by_key_1', 'group_by_key_2', 'group_by_key_3',
                           'dimension_value_1', 'dimension_value_2', 'dimension_value_3') }} as dimensions,
        case aggregation
            when 'count' then false
            when 'unique_count' then metric_value_text is null
            else metric_value is null
        end as has_invalid_value,
        coalesce(aggregation in ('sum', 'max', 'latest') and metric_value < 0, false) as has_negative_value
    from extracted

)

select * from final
