{#
  Typed view of the raw usage rows that exist at the run's clock. Nothing is filtered out here except
  rows landed after as_of (they do not exist yet for this run); validation happens downstream so that
  every raw row stays accounted for.
#}
with

source as (

    select * from {{ source('raw', 'usage_events') }}
    where ingested_at <= {{ as_of() }}

),

final as (

    select
        cast(event_id as {{ dbt.type_string() }}) as event_id,
        cast(customer_id as {{ dbt.type_string() }}) as customer_id,
        cast(event_type as {{ dbt.type_string() }}) as event_type,
        cast(occurred_at as {{ dbt.type_string() }}) as occurred_at_raw,
        cast(properties as {{ dbt.type_string() }}) as properties_raw,
        cast(ingested_at as timestamp) as ingested_at,
        {{ try_cast_timestamp_utc("cast(occurred_at as " ~ dbt.type_string() ~ ")") }} as occurred_at,
        {{ json_object_or_null("cast(properties as " ~ dbt.type_string() ~ ")") }} as properties,
        md5(
            coalesce('v' || cast(event_id as {{ dbt.type_string() }}), 'n') || '|'
            || coalesce('v' || cast(customer_id as {{ dbt.type_string() }}), 'n') || '|'
            || coalesce('v' || cast(event_type as {{ dbt.type_string() }}), 'n') || '|'
            || coalesce('v' || cast(occurred_at as {{ dbt.type_string() }}), 'n') || '|'
            || coalesce('v' || cast(properties as {{ dbt.type_string() }}), 'n')
        ) as event_payload_hash
    from source

)

select * from final
