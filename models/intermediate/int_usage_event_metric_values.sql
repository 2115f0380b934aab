{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['raw_row_key', 'metric_id'],
        indexes=postgres_indexes([['raw_row_key'], ['ingested_at']]),
    )
}}
{#
  What each raw row means to each metric it feeds: the value, whether the value is usable, and the
  dimension values of the metric's group_by keys. Computed once per raw row (incremental); the
  classification reads the validity flags, the rating reads the values.
#}
with

batch as (

    {{ raw_usage_batch() }}

),

metrics as (

    select * from {{ ref('stg_seed__billable_metrics') }}

),

metric_filters as (

    select * from {{ ref('int_billable_metric_filters') }}

),

filter_property_counts as (

    select
        metric_id,
        count(distinct filter_property) as filter_property_count
    from metric_filters
    group by metric_id

),

candidate_pairs as (

    select
        batch.raw_row_key,
        batch.ingested_at,
        batch.properties,
        metrics.metric_id,
        metrics.aggregation,
        metrics.value_property,
        metrics.group_by_key_1,
        metrics.group_by_key_2,
        metrics.group_by_key_3,
        coalesce(filter_property_counts.filter_property_count, 0) as filter_property_count
    from batch
    inner join metrics
        on batch.event_type = metrics.event_type
    left join filter_property_counts
        on metrics.metric_id = filter_property_counts.metric_id
    where batch.properties is not null

),

filter_matches as (

    select
        candidate_pairs.raw_row_key,
        candidate_pairs.metric_id,
        count(distinct metric_filters.filter_property) as matched_filter_property_count
    from candidate_pairs
    inner join metric_filters
        on
            candidate_pairs.metric_id = metric_filters.metric_id
            and {{ json_get_text('candidate_pairs.properties', 'metric_filters.filter_property') }}
            = metric_filters.allowed_value
    group by candidate_pairs.raw_row_key, candidate_pairs.metric_id

),

applicable_pairs as (

    select candidate_pairs.*
    from candidate_pairs
    left join filter_matches
        on
            candidate_pairs.raw_row_key = filter_matches.raw_row_key
            and candidate_pairs.metric_id = filter_matches.metric_id
    where
        candidate_pairs.filter_property_count = 0
        or filter_matches.matched_filter_property_count = candidate_pairs.filter_property_count

),

extracted as (

    select
        raw_row_key,
        ingested_at,
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
