{#
  A metric's filter {"property": ["allowed", "values"]} as rows. An event passes the filter when, for
  every filtered property, its value is one of the allowed values (compared as text).
  filter_position numbers a metric's filtered properties 1, 2, 3 (alphabetically), so the per-event
  check is a fixed number of lookups, like the group_by keys; more than 3 is a reference data error.
#}
with

metrics as (

    select * from {{ ref('stg_seed__billable_metrics') }}
    where event_filter is not null

),

final as (

    select
        metrics.metric_id,
        object_entry.key as filter_property,
        dense_rank() over (
            partition by metrics.metric_id order by object_entry.key
        ) as filter_position,
        {{ json_element_text('array_element.value') }} as allowed_value
    from metrics
    {{ json_object_of_arrays_rows('metrics', 'event_filter') }}

)

select * from final
