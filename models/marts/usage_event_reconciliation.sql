{{
    config(
        materialized='incremental',
        incremental_strategy=replace_strategy(),
        partition_by=spark_partition_by(['ingestion_date']),
        unique_key='ingestion_date',
        on_schema_change='append_new_columns',
    )
}}
{#
  Conservation of raw rows, one row per ingestion day (UTC): every row received is accepted, a
  duplicate, or quarantined, exactly. received is counted on the raw source itself, independently of
  the classification, so a row lost between the two shows up as is_balanced = false.
  Incremental: a run recounts, on both sides, every whole ingestion day from the first day of its
  batch up to the day its window ends in (if it has a window; Dagster's windows end at midnight).
#}
{%- set recount = ingestion_days_to_recount('ingested_at', 'newest_ingested_at') %}

with

raw_rows as (

    select * from {{ ref('stg_raw__usage_events') }}
    where {{ recount }}

),

classified as (

    select * from {{ ref('int_usage_events_classified') }}
    where
        ingested_at <= {{ as_of() }}
        and {{ recount }}

),

received as (

    select
        cast({{ dbt.date_trunc('day', 'ingested_at') }} as date) as ingestion_date,
        count(*) as received_count
    from raw_rows
    group by 1

),

outcomes as (

    select
        cast({{ dbt.date_trunc('day', 'classified.ingested_at') }} as date) as ingestion_date,
        count(*) as classified_count,
        max(classified.ingested_at) as newest_ingested_at,
        sum(case when classified.event_status = 'accepted' then 1 else 0 end) as accepted_count,
        sum(case when classified.event_status = 'duplicate' then 1 else 0 end) as duplicate_count,
        sum(case when classified.is_conflicting_duplicate then 1 else 0 end) as conflicting_duplicate_count,
        sum(case when classified.event_status = 'quarantined' then 1 else 0 end) as quarantined_count,
        sum(
            case when classified.event_status = 'accepted' and not classified.is_metered then 1 else 0 end
        ) as unmetered_count
    from classified
    group by 1

),

final as (

    select
        coalesce(received.ingestion_date, outcomes.ingestion_date) as ingestion_date,
        cast(coalesce(received.received_count, 0) as bigint) as received_count,
        cast(coalesce(outcomes.accepted_count, 0) as bigint) as accepted_count,
        cast(coalesce(outcomes.duplicate_count, 0) as bigint) as duplicate_count,
        cast(coalesce(outcomes.conflicting_duplicate_count, 0) as bigint) as conflicting_duplicate_count,
        cast(coalesce(outcomes.quarantined_count, 0) as bigint) as quarantined_count,
        cast(coalesce(outcomes.unmetered_count, 0) as bigint) as unmetered_count,
        coalesce(received.received_count, 0)
        = coalesce(outcomes.accepted_count, 0)
        + coalesce(outcomes.duplicate_count, 0)
        + coalesce(outcomes.quarantined_count, 0) as is_balanced,
        outcomes.newest_ingested_at
    from received
    full outer join outcomes
        on received.ingestion_date = outcomes.ingestion_date

)

select * from final
