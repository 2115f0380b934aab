{# group_by is split into at most three positional keys (decision log: dimensions); a test enforces it. #}
with

source as (

    select * from {{ ref('billable_metrics') }}

),

final as (

    select
        metric_id,
        event_type,
        lower(trim(aggregation)) as aggregation,
        nullif(trim(value_property), '') as value_property,
        nullif(trim(filter), '') as event_filter,
        nullif(trim(group_by), '') as group_by,
        nullif(trim({{ dbt.split_part('group_by', "','", 1) }}), '') as group_by_key_1,
        nullif(trim({{ dbt.split_part('group_by', "','", 2) }}), '') as group_by_key_2,
        nullif(trim({{ dbt.split_part('group_by', "','", 3) }}), '') as group_by_key_3,
        nullif(trim({{ dbt.split_part('group_by', "','", 4) }}), '') as group_by_key_4,
        unit
    from source

)

select * from final
