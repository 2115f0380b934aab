{#
  Typed view of the raw usage rows that exist at the run's clock. Nothing is filtered out here except
  rows landed after as_of (they do not exist yet for this run); validation happens downstream so that
  every raw row stays accounted for.

  load_id: the load the row arrived in, when the raw table has the column (the project's loaders add
  it; a raw table kept by another tool may not have it, and its rows carry no load).
#}
{%- set raw_relation = source('raw', 'usage_events') -%}
{%- set has_load_id = execute and 'load_id' in (
    adapter.get_columns_in_relation(raw_relation) | map(attribute='name') | map('lower') | list
) -%}
with

source as (

    select * from {{ raw_relation }}
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
        {% if has_load_id -%}
            cast(load_id as {{ dbt.type_string() }}) as load_id,
        {%- else -%}
            cast(null as {{ dbt.type_string() }}) as load_id,
        {%- endif %}
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
