-- depends_on: {{ ref('int_usage_events_classified') }}
-- depends_on: {{ ref('int_usage_event_metric_values') }}
-- depends_on: {{ ref('int_usage_daily_aggregates') }}
-- depends_on: {{ ref('int_usage_daily_price_matches') }}
-- depends_on: {{ ref('usage_event_reconciliation') }}
-- depends_on: {{ ref('int_charge_quantities_from_events') }}
-- depends_on: {{ ref('int_threshold_product_steps') }}
{{
    config(
        materialized='incremental',
        incremental_strategy='append',
    )
}}
{#
  The loads the usage models have processed, one row per load and ingestion day (decision 50). An
  incremental run starts its batch no later than the first row of any load not listed here
  (macros/usage_batches.sql), so a load that committed after a run had passed its ingested_at is
  processed by the next run. A load's day is listed once the classification holds every one of its rows
  (the count the loader recorded); the models above read the same batch in the same run (the last two
  in their pre-hook, delete_invoices_to_recompute), and this model runs after all of them
  (depends_on), so it is listed only when they all processed it.

  Only a run that selects every one of those models may list loads: a run of the classification alone
  would otherwise mark as processed rows the daily models never saw. Such a run lists nothing new, and
  the next complete run processes those loads again (delete+insert makes that harmless).
#}
{%- set unselected_batch_models = [] -%}
{%- for node_id in model.depends_on.nodes if node_id.startswith('model.') and selected_resources -%}
    {%- if node_id not in selected_resources -%}
        {%- do unselected_batch_models.append(node_id) -%}
    {%- endif -%}
{%- endfor -%}
{%- if execute and unselected_batch_models -%}
    {%- do log('int_usage_loads_processed lists no load: this run does not select '
        ~ unselected_batch_models | join(', '), info=true) -%}
{%- endif -%}
{%- set whole_run = unselected_batch_models | length == 0 -%}
{%- set loads_relation = graph_relation(graph.sources.values(), 'source', 'usage_loads') if execute else none %}

{% if loads_relation is not none and whole_run %}

    with

    unprocessed_loads as (

        select
            loads.load_id,
            loads.ingestion_date,
            loads.row_count,
            loads.first_ingested_at
        from {{ source('raw', 'usage_loads') }} as loads
        {% if is_incremental() %}
            where not exists (
                select 1
                from {{ this }} as processed
                where
                    processed.load_id = loads.load_id
                    and processed.ingestion_date = loads.ingestion_date
            )
        {% endif %}

    ),

    classified_rows as (

        select
            classified.load_id,
            classified.ingestion_date,
            count(*) as classified_count
        from {{ ref('int_usage_events_classified') }} as classified
        inner join unprocessed_loads
            on
                classified.load_id = unprocessed_loads.load_id
                and classified.ingestion_date = unprocessed_loads.ingestion_date
        where classified.ingested_at >= (select min(first_ingested_at) from unprocessed_loads)
        group by classified.load_id, classified.ingestion_date

    )

    select
        unprocessed_loads.load_id,
        unprocessed_loads.ingestion_date,
        unprocessed_loads.row_count,
        {{ as_of() }} as processed_as_of
    from unprocessed_loads
    inner join classified_rows
        on
            unprocessed_loads.load_id = classified_rows.load_id
            and unprocessed_loads.ingestion_date = classified_rows.ingestion_date
    where classified_rows.classified_count = unprocessed_loads.row_count

{% else %}

    select
        cast(null as {{ dbt.type_string() }}) as load_id,
        cast(null as date) as ingestion_date,
        cast(null as {{ dbt.type_bigint() }}) as row_count,
        {{ as_of() }} as processed_as_of
    where 1 = 0

{% endif %}
