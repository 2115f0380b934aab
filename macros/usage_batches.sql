{#
  Which raw rows an incremental run processes (its batch), by ingested_at.

  - With var ingested_from (a Dagster partition window, or a manual backfill): the rows with
    ingested_from <= ingested_at < ingested_to (ingested_to optional). delete+insert replaces them, so
    re-running a window changes nothing.
  - Without it: every row at or after the newest ingested_at the model already holds. That newest
    slice is recomputed, so rows landed later with the same ingested_at are never missed.
  - Either way, the batch also starts no later than the first row of any load the project has not
    processed yet (raw.usage_loads, int_usage_loads_processed; decision 50). A load whose transaction
    committed after a run had moved past its ingested_at (a slow load overtaken by a faster one) or a
    replay of archived rows with their old ingested_at is processed by the next run, whatever its
    timestamps. Rows landed by tools that record no load keep the ingested_at rule alone.
  - A full refresh takes every row.
  The bounds are resolved to literals when the model compiles (small queries on the model itself and
  on the loads), so the warehouse can skip the storage blocks of older rows instead of scanning the
  whole history.

  raw_row_key: md5 of the payload hash, ingested_at and the row's occurrence number among raw rows
  identical in both (a file landed twice in one load). Almost no row has such a twin, so the numbering
  runs on those rows only: a window over every row carried every staged column through a sort of the
  whole batch, the classification's most expensive step and a large part of its spill (decision 37).
  Twins are identical in every column, so which of them gets which number does not matter.
#}
{% macro raw_usage_batch() -%}
    {%- set batch_condition = in_incremental_batch('staged.ingested_at') if is_incremental() else '1 = 1' -%}
    {#- materialized: both branches read it, and it is small (only the groups with twins) -#}
    with identical_raw_row_groups as {{ cte_hint('materialized') }} (
        select
            staged.event_payload_hash,
            staged.ingested_at
        from {{ ref('stg_raw__usage_events') }} as staged
        where {{ batch_condition }}
        group by staged.event_payload_hash, staged.ingested_at
        having count(*) > 1
    )

    select
        {{ raw_row_key('staged.event_payload_hash', 'staged.ingested_at', "'1'") }} as raw_row_key,
        staged.*
    from {{ ref('stg_raw__usage_events') }} as staged
    left join identical_raw_row_groups as twins
        on
            staged.event_payload_hash = twins.event_payload_hash
            and staged.ingested_at = twins.ingested_at
    where
        {{ batch_condition }}
        and twins.event_payload_hash is null

    union all

    select
        {{ raw_row_key(
            'staged.event_payload_hash',
            'staged.ingested_at',
            'cast(row_number() over (partition by staged.event_payload_hash, staged.ingested_at '
            ~ 'order by staged.event_payload_hash) as ' ~ dbt.type_string() ~ ')'
        ) }} as raw_row_key,
        staged.*
    from {{ ref('stg_raw__usage_events') }} as staged
    inner join identical_raw_row_groups as twins
        on
            staged.event_payload_hash = twins.event_payload_hash
            and staged.ingested_at = twins.ingested_at
    where {{ batch_condition }}
{%- endmacro %}

{#
  A CTE's planner hint, 'materialized' (compute once although read twice) or 'not materialized'
  (inline it), on DuckDB and Postgres; Spark has no such hint and plans the CTE itself.
#}
{% macro cte_hint(hint) -%}
    {{ return(adapter.dispatch('cte_hint', 'warehouse_billing')(hint)) }}
{%- endmacro %}

{% macro default__cte_hint(hint) -%}
    {{ hint }}
{%- endmacro %}

{% macro spark__cte_hint(hint) -%}
{%- endmacro %}

{# The key of one raw row; occurrence_text is its number among identical rows, as text. #}
{% macro raw_row_key(payload_hash, ingested_at, occurrence_text) -%}
    md5({{ payload_hash }} || '|' || cast({{ ingested_at }} as {{ dbt.type_string() }}) || '|' || {{ occurrence_text }})
{%- endmacro %}

{#
  The batch condition on an ingested_at column; only meaningful inside an incremental run.
  watermark_column: the column of the model itself that holds the newest ingested_at it processed.
#}
{% macro in_incremental_batch(ingested_at_column, watermark_column='ingested_at') -%}
    {{ ingested_at_column }} >= {{ incremental_batch_start(watermark_column) }}
    {%- if run_var('ingested_from', none) and run_var('ingested_to', none) %}
        and {{ ingested_at_column }} < {{ incremental_batch_end() }}
    {%- endif %}
{%- endmacro %}

{# The end (exclusive) of a window's batch: ingested_to, or the midnight after its last instant on Spark. #}
{% macro incremental_batch_end() -%}
    {%- if batches_are_whole_days() -%}
        {%- set last_instant = dbt.dateadd('second', -1, timestamp_literal(run_var('ingested_to'))) -%}
        {{ dbt.dateadd('day', 1, dbt.date_trunc('day', last_instant)) }}
    {%- else -%}
        {{ timestamp_literal(run_var('ingested_to')) }}
    {%- endif -%}
{%- endmacro %}

{#
  The first ingested_at of the batch, as a timestamp expression (midnight of its day on Spark): the
  window's start or the model's watermark, or the first row of an unprocessed load if that is earlier.
#}
{% macro incremental_batch_start(watermark_column='ingested_at') -%}
    {%- if run_var('ingested_from', none) -%}
        {%- set start_text = run_var('ingested_from') | string | replace('T', ' ') | replace('Z', '') -%}
    {%- else -%}
        {%- set start_text = newest_ingested_at(this, watermark_column) -%}
    {%- endif -%}
    {%- set unprocessed_text = first_unprocessed_load_ingested_at() -%}
    {%- if unprocessed_text is not none and timestamp_text_before(unprocessed_text, start_text) -%}
        {%- set start_text = unprocessed_text -%}
    {%- endif -%}
    {%- set start = timestamp_literal(start_text) -%}
    {%- if batches_are_whole_days() -%}
        {{ dbt.date_trunc('day', start) }}
    {%- else -%}
        {{ start }}
    {%- endif -%}
{%- endmacro %}

{#
  The first ingested_at of the loads (each ingestion day of a load counts on its own) that
  int_usage_loads_processed does not list yet, as text; none when every load is processed, or when
  either table does not exist (rows landed by other tools, or the first run after an upgrade: that run
  records what it finds processed).
#}
{% macro first_unprocessed_load_ingested_at() -%}
    {%- if not execute -%}
        {{ return(none) }}
    {%- endif -%}
    {#- asked once per model: a model states its batch several times, and they must all agree -#}
    {%- if 'first_unprocessed_load' in model -%}
        {{ return(model['first_unprocessed_load']) }}
    {%- endif -%}
    {#- looked up in the graph: ref() and source() here would make every caller depend on them, and
        int_usage_loads_processed depends on the callers -#}
    {%- set loads = graph_relation(graph.sources.values(), 'source', 'usage_loads') -%}
    {%- set processed = graph_relation(graph.nodes.values(), 'model', 'int_usage_loads_processed') -%}
    {%- if loads is none or processed is none -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set query -%}
        select min(loads.first_ingested_at)
        from {{ loads }} as loads
        where not exists (
            select 1
            from {{ processed }} as processed
            where
                processed.load_id = loads.load_id
                and processed.ingestion_date = loads.ingestion_date
        )
    {%- endset -%}
    {%- set first = query_value_text(query, '') -%}
    {%- do model.update({'first_unprocessed_load': first if first != '' else none}) -%}
    {{ return(model['first_unprocessed_load']) }}
{%- endmacro %}

{# The existing relation of the graph's node of that resource type and name; none if it does not exist yet. #}
{% macro graph_relation(nodes, resource_type, name) -%}
    {%- for node in nodes if node.resource_type == resource_type and node.name == name -%}
        {{ return(adapter.get_relation(node.database, node.schema, node.identifier or node.alias)) }}
    {%- endfor -%}
    {{ return(none) }}
{%- endmacro %}

{# Whether timestamp text `earlier` is before timestamp text `later` (ISO 8601, with or without 'T'). #}
{% macro timestamp_text_before(earlier, later) -%}
    {%- set parse = modules.datetime.datetime.fromisoformat -%}
    {{ return(
        parse(earlier | string | replace('T', ' ') | replace('Z', ''))
        < parse(later | string | replace('T', ' ') | replace('Z', ''))
    ) }}
{%- endmacro %}

{#
  Where deduplication looks for an earlier accepted copy of a batch's event_id: the accepted rows
  ingested at most late_arrival_window_days + future_tolerance_hours before the batch. A re-send
  older than that is quarantined as outside_late_window anyway, because an accepted copy was ingested
  no earlier than future_tolerance_hours before the event occurred (decision log).
#}
{% macro dedupe_lookback_start() -%}
    {{ dbt.dateadd(
        'hour',
        -(var('late_arrival_window_days') * 24 + var('future_tolerance_hours')),
        incremental_batch_start()
    ) }}
{%- endmacro %}

{# The largest value of a timestamp column, as text ('1900-01-01' when empty or at parse time). #}
{% macro newest_ingested_at(relation, column='ingested_at') -%}
    {{ return(query_value_text('select max(' ~ column ~ ') from ' ~ relation, '1900-01-01 00:00:00')) }}
{%- endmacro %}

{# The single value a query returns, as text; if_null when it is null or at parse time. #}
{% macro query_value_text(query, if_null) -%}
    {%- if not execute -%}
        {{ return(if_null) }}
    {%- endif -%}
    {%- set value = run_query(query).columns[0].values()[0] -%}
    {{ return(value | string if value is not none else if_null) }}
{%- endmacro %}

{#
  The ingestion days an incremental run of a per-day model recounts, as a condition on an ingested_at
  column: every whole day from the first day of the batch up to the day the window ends in (if the
  run has a window; Dagster's windows end at midnight). Outside an incremental run: every row.
#}
{% macro ingestion_days_to_recount(ingested_at_column, watermark_column) -%}
    {%- if not is_incremental() -%}
        {{ return('1 = 1') }}
    {%- endif -%}
    {%- set condition -%}
        {{ ingested_at_column }} >= {{ dbt.date_trunc('day', incremental_batch_start(watermark_column)) }}
        {%- if run_var('ingested_from', none) and run_var('ingested_to', none) %}
            {%- set last_instant = dbt.dateadd('second', -1, timestamp_literal(run_var('ingested_to'))) %}
            and {{ ingested_at_column }} < {{ dbt.dateadd('day', 1, dbt.date_trunc('day', last_instant)) }}
        {%- endif %}
    {%- endset -%}
    {{ return(condition) }}
{%- endmacro %}

{% macro timestamp_literal(text) -%}
    cast('{{ text | string | replace("T", " ") | replace("Z", "") }}' as timestamp)
{%- endmacro %}

{#
  Rows of a JSON object of arrays, {"property": ["a", "b"]}, as (key, element) pairs: the end of a
  FROM clause that starts with relation_alias. object_entry.key is the property, and the element is
  read with json_element_text('array_element.value').
#}
{% macro json_object_of_arrays_rows(relation_alias, json_text_column) -%}
    {{ return(adapter.dispatch('json_object_of_arrays_rows', 'warehouse_billing')(relation_alias, json_text_column)) }}
{%- endmacro %}

{% macro duckdb__json_object_of_arrays_rows(relation_alias, json_text_column) -%}
    cross join json_each(cast({{ relation_alias }}.{{ json_text_column }} as json)) as object_entry
    cross join json_each(object_entry.value) as array_element
{%- endmacro %}

{% macro postgres__json_object_of_arrays_rows(relation_alias, json_text_column) -%}
    cross join lateral jsonb_each(cast({{ relation_alias }}.{{ json_text_column }} as jsonb)) as object_entry
    cross join lateral jsonb_array_elements(object_entry.value) as array_element(value)
{%- endmacro %}

{% macro spark__json_object_of_arrays_rows(relation_alias, json_text_column) -%}
    lateral view explode(
        cast(parse_json({{ relation_alias }}.{{ json_text_column }}) as map<string, array<variant>>)
    ) object_entry as key, value
    lateral view explode(object_entry.value) array_element as value
{%- endmacro %}

{% macro json_element_text(json_expr) -%}
    {{ return(adapter.dispatch('json_element_text', 'warehouse_billing')(json_expr)) }}
{%- endmacro %}

{% macro duckdb__json_element_text(json_expr) -%}
    ({{ json_expr }} ->> '$')
{%- endmacro %}

{% macro postgres__json_element_text(json_expr) -%}
    ({{ json_expr }} #>> '{}')
{%- endmacro %}

{% macro spark__json_element_text(json_expr) -%}
    variant_get({{ json_expr }}, '$', 'string')
{%- endmacro %}

{#
  The join condition of a raw row to the contract in force for its customer when it occurred
  (starts_at inclusive, ends_at exclusive). A customer's contracts never overlap (tested), so at most
  one matches. The classification and the metric values both use it, so they agree on the contract.
#}
{% macro contract_in_force(row_alias, contracts_alias) -%}
    {{ row_alias }}.customer_id = {{ contracts_alias }}.customer_id
    and {{ row_alias }}.occurred_at >= {{ contracts_alias }}.starts_at
    and ({{ contracts_alias }}.ends_at is null or {{ row_alias }}.occurred_at < {{ contracts_alias }}.ends_at)
{%- endmacro %}

{#
  How the incremental usage models replace what a run recomputes. DuckDB and Postgres delete the rows
  of the recomputed keys and insert the new ones (delete+insert on unique_key). Spark tables without a
  table format (Delta, Iceberg) cannot delete rows, so on Spark each such model is partitioned and a
  run overwrites whole partitions (insert_overwrite, dynamic partition mode): its batch must then hold
  every row of each partition it writes. The batches are whole days there (incremental_batch_start),
  and the per-day models recompute whole days (recomputed_day_keys).
#}
{% macro replace_strategy() -%}
    {{ return('insert_overwrite' if target.type == 'spark' else 'delete+insert') }}
{%- endmacro %}

{# partition_by for Spark (a column list), none elsewhere #}
{% macro spark_partition_by(columns) -%}
    {{ return(columns if target.type == 'spark' else none) }}
{%- endmacro %}

{% macro batches_are_whole_days() -%}
    {{ return(target.type == 'spark') }}
{%- endmacro %}

{#
  The key columns a per-day model recomputes for the days its batch touched: each touched
  (contract, day) on DuckDB and Postgres; on Spark, where a day is a partition, every contract of a
  touched day.
#}
{% macro recomputed_day_keys() -%}
    {{ return(['usage_date'] if batches_are_whole_days() else ['contract_id', 'usage_date']) }}
{%- endmacro %}

{# left.key = right.key for each of the keys, joined with and #}
{% macro join_on_keys(left_alias, right_alias, keys) -%}
    {%- for key in keys %}
        {{ 'and ' if not loop.first }}{{ left_alias }}.{{ key }} = {{ right_alias }}.{{ key }}
    {%- endfor -%}
{%- endmacro %}
