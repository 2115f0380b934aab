{#
  Price rows made ready for matching: the dimension values a row asks for, read on its metric's
  group_by keys (null = any value), and its specificity (how many dimensions it pins). A row whose
  dimensions name a key that is not a group_by key of its metric would never match; the test
  prices_dimensions_are_group_by_keys fails the build on it. Dimensions that are not a JSON object
  (decision 46) read as none here, and int_reference_errors__prices reports the row.
#}
with

prices as (

    select * from {{ ref('stg_seed__prices') }}

),

metrics as (

    select * from {{ ref('stg_seed__billable_metrics') }}

),

with_dimensions as (

    select
        prices.*,
        metrics.aggregation,
        {{ json_get_text(json_object_or_null('prices.dimensions'), 'metrics.group_by_key_1') }} as dimension_value_1,
        {{ json_get_text(json_object_or_null('prices.dimensions'), 'metrics.group_by_key_2') }} as dimension_value_2,
        {{ json_get_text(json_object_or_null('prices.dimensions'), 'metrics.group_by_key_3') }} as dimension_value_3,
        {{ json_object_keys_count(json_object_or_null('prices.dimensions')) }} as dimension_key_count
    from prices
    left join metrics
        on prices.metric_id = metrics.metric_id

),

final as (

    select
        *,
        (case when dimension_value_1 is not null then 1 else 0 end)
        + (case when dimension_value_2 is not null then 1 else 0 end)
        + (case when dimension_value_3 is not null then 1 else 0 end) as specificity
    from with_dimensions

)

select * from final
