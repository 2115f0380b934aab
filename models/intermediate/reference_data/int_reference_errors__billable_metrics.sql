{{ config(materialized='view') }}
{#
  Problems in the billable_metrics seed, one row per problem. A view: int_reference_data_errors reads
  it once, so a table would only be a copy.
#}
with

metrics as (

    select * from {{ ref('stg_seed__billable_metrics') }}

),

metric_filters as (

    select * from {{ ref('int_billable_metric_filters') }}

),

unknown_aggregation as (

    select
        'billable_metrics' as seed_name,
        metric_id as row_key,
        'aggregation must be count, sum, max, unique_count or latest, got ' || coalesce(aggregation, 'null') as problem
    from metrics
    where aggregation is null or aggregation not in ('count', 'sum', 'max', 'unique_count', 'latest')

),

aggregation_without_value_property as (

    select
        'billable_metrics' as seed_name,
        metric_id as row_key,
        'aggregation ' || aggregation || ' needs a value_property' as problem
    from metrics
    where aggregation in ('sum', 'max', 'unique_count', 'latest') and value_property is null

),

{# a usage group carries at most three dimension values (decision log: dimensions) #}
too_many_group_by_keys as (

    select
        'billable_metrics' as seed_name,
        metric_id as row_key,
        'group_by has more than 3 keys: ' || group_by as problem
    from metrics
    where group_by_key_4 is not null

),

metrics_filtering_more_than_three_properties as (

    select distinct metric_id
    from metric_filters
    where filter_position > 3

),

too_many_filter_properties as (

    select
        'billable_metrics' as seed_name,
        metrics.metric_id as row_key,
        'filter has more than 3 properties: ' || metrics.event_filter as problem
    from metrics
    inner join metrics_filtering_more_than_three_properties
        on metrics.metric_id = metrics_filtering_more_than_three_properties.metric_id

),

final as (

    select * from unknown_aggregation
    union all
    select * from aggregation_without_value_property
    union all
    select * from too_many_group_by_keys
    union all
    select * from too_many_filter_properties

)

select * from final
