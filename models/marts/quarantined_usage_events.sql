{# One row per quarantined raw row: the raw values as they landed and the one reason code (contract §2.2). #}
with

classified as (

    select * from {{ ref('int_usage_events_classified') }}
    where
        event_status = 'quarantined'
        and ingested_at <= {{ as_of() }}

),

final as (

    select
        raw_row_key,
        event_id,
        customer_id,
        event_type,
        occurred_at_raw as occurred_at,
        properties_raw as properties,
        ingested_at,
        quarantine_reason as reason
    from classified

)

select * from final
