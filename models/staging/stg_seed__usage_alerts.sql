{# Empty text is null: a usage alert has no currency, the others have no metric. #}
with

source as (

    select * from {{ ref('usage_alerts') }}

),

final as (

    select
        nullif(trim(alert_id), '') as alert_id,
        nullif(trim(contract_id), '') as contract_id,
        lower(nullif(trim(alert_type), '')) as alert_type,
        nullif(trim(metric_id), '') as metric_id,
        threshold,
        upper(nullif(trim(currency), '')) as currency
    from source

)

select * from final
