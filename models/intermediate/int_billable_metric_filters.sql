{#
  A metric's filter {"property": ["allowed", "values"]} as rows. An event passes the filter when, for
  every filtered property, its value is one of the allowed values (compared as text).
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
        {{ json_element_text('array_element.value') }} as allowed_value
    from metrics,
        {{ json_object_of_arrays_rows('metrics', 'event_filter') }}

)

select * from final
