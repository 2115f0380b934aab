-- depends_on: {{ ref('int_reference_data_errors') }}
{{
    config(
        materialized='incremental',
        incremental_strategy=replace_strategy(),
        partition_by=spark_partition_by(['ingestion_date']),
        unique_key='raw_row_key',
        on_schema_change='append_new_columns',
        indexes=postgres_indexes([['raw_row_key'], ['event_id'], ['ingested_at']]),
    )
}}
{#
  Where every raw row ends (contract §2.2): accepted, duplicate, or quarantined with the first reason that
  applies. Deduplication is by event_id: a valid row is a duplicate when an earlier valid row
  (ingested_at, then payload hash) carries the same event_id. Rows that were only quarantined never
  block a corrected resend. A full refresh compares every row with every other; an incremental run
  compares its batch with itself and with the accepted rows of the lookback window before it
  (macros/usage_batches.sql, decision log), so its cost follows the batch, not the history.
  Every lookup of the per-row stream is into a small set (contracts, rows with a bad metric value,
  metered event types, event_ids seen twice), so the wide rows stream through once and nothing of
  the size of the batch is sorted, joined or spilled alongside them (decision log).
#}
with

batch as (

    {{ raw_usage_batch() }}

),

contracts as (

    select * from {{ ref('stg_seed__contracts') }}

),

metered_event_types as (

    select distinct event_type
    from {{ ref('stg_seed__billable_metrics') }}

),

{# Only the few rows with a bad value for some metric; every other row has nothing to look up. #}
metric_value_problems as (

    select
        metric_values.raw_row_key,
        {{ dbt.bool_or('metric_values.has_invalid_value') }} as has_invalid_value,
        {{ dbt.bool_or('metric_values.has_negative_value') }} as has_negative_value
    from {{ ref('int_usage_event_metric_values') }} as metric_values
    where
        (metric_values.has_invalid_value or metric_values.has_negative_value)
    {% if is_incremental() %}
        and {{ in_incremental_batch('metric_values.ingested_at') }}
    {% endif %}
    group by metric_values.raw_row_key

),

{# event_ids on more than one raw row of the batch (valid or not): the only ones that need ranking #}
repeated_in_batch as (

    select staged.event_id
    from {{ ref('stg_raw__usage_events') }} as staged
    where
        staged.event_id is not null
    {% if is_incremental() %}
        and {{ in_incremental_batch('staged.ingested_at') }}
    {% endif %}
    group by staged.event_id
    having count(*) > 1

),

{# Contracts of one customer never overlap (tested), so at most one contract matches. #}
with_contract as (

    select
        batch.*,
        contracts.contract_id
    from batch
    left join contracts
        on {{ contract_in_force('batch', 'contracts') }}

),

validated as (

    select
        with_contract.*,
        case
            when with_contract.event_id is null or trim(with_contract.event_id) = ''
                then 'missing_event_id'
            when with_contract.customer_id is null or trim(with_contract.customer_id) = ''
                then 'missing_customer_id'
            when with_contract.occurred_at is null
                then 'invalid_occurred_at'
            when
                with_contract.occurred_at
                > {{ dbt.dateadd('hour', var('future_tolerance_hours'), 'with_contract.ingested_at') }}
                then 'future_occurred_at'
            when with_contract.properties is null
                then 'invalid_properties'
            when metric_value_problems.has_invalid_value
                then 'invalid_value'
            when metric_value_problems.has_negative_value
                then 'negative_value'
            when with_contract.contract_id is null
                then 'no_active_contract'
            when
                with_contract.ingested_at
                > {{ dbt.dateadd('day', var('late_arrival_window_days'), 'with_contract.occurred_at') }}
                then 'outside_late_window'
        end as quarantine_reason,
        metered_event_types.event_type is not null as is_metered
    from with_contract
    left join metric_value_problems
        on with_contract.raw_row_key = metric_value_problems.raw_row_key
    left join metered_event_types
        on with_contract.event_type = metered_event_types.event_type

),

valid_in_batch as (

    select
        validated.raw_row_key,
        validated.event_id,
        validated.event_payload_hash,
        row_number() over (
            partition by validated.event_id
            order by validated.ingested_at, validated.event_payload_hash, validated.raw_row_key
        ) as occurrence_in_batch,
        first_value(validated.event_payload_hash) over (
            partition by validated.event_id
            order by validated.ingested_at, validated.event_payload_hash, validated.raw_row_key
            rows between unbounded preceding and unbounded following
        ) as first_payload_hash_in_batch
    from validated
    inner join repeated_in_batch
        on validated.event_id = repeated_in_batch.event_id
    where validated.quarantine_reason is null

),

accepted_before_batch as (

    {% if is_incremental() %}
        {# one accepted copy per event_id; min() only matters if history already holds two #}
        select
            history.event_id,
            min(history.event_payload_hash) as accepted_payload_hash
        from {{ this }} as history
        where
            history.event_status = 'accepted'
            and history.ingested_at >= {{ dedupe_lookback_start() }}
            and history.ingested_at < {{ incremental_batch_start() }}
            and history.event_id in (
                select staged.event_id
                from {{ ref('stg_raw__usage_events') }} as staged
                where {{ in_incremental_batch('staged.ingested_at') }}
            )
        group by history.event_id
    {% else %}
        select
            cast(null as {{ dbt.type_string() }}) as event_id,
            cast(null as {{ dbt.type_string() }}) as accepted_payload_hash
        where 1 = 0
    {% endif %}

),

final as (

    select
        validated.raw_row_key,
        validated.event_id,
        validated.customer_id,
        validated.event_type,
        validated.occurred_at_raw,
        validated.properties_raw,
        validated.ingested_at,
        cast({{ dbt.date_trunc('day', 'validated.ingested_at') }} as date) as ingestion_date,
        validated.load_id,
        validated.occurred_at,
        cast({{ dbt.date_trunc('day', 'validated.occurred_at') }} as date) as usage_date,
        validated.event_payload_hash,
        validated.contract_id,
        validated.quarantine_reason,
        case
            when validated.quarantine_reason is not null then 'quarantined'
            when accepted_before_batch.event_id is not null then 'duplicate'
            when valid_in_batch.occurrence_in_batch > 1 then 'duplicate'
            else 'accepted'
        end as event_status,
        validated.is_metered,
        coalesce(
            validated.quarantine_reason is null
            and (accepted_before_batch.event_id is not null or valid_in_batch.occurrence_in_batch > 1)
            and validated.event_payload_hash
            <> coalesce(accepted_before_batch.accepted_payload_hash, valid_in_batch.first_payload_hash_in_batch),
            false
        ) as is_conflicting_duplicate
    from validated
    left join valid_in_batch
        on validated.raw_row_key = valid_in_batch.raw_row_key
    left join accepted_before_batch
        on validated.event_id = accepted_before_batch.event_id

)

select * from final
