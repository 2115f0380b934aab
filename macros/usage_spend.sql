{#
  How the usage and spend models (tag usage_and_spend) follow the incremental usage models without
  rebuilding from the whole history on every run (decision 58).

  The two incremental models they read, int_usage_daily_aggregates and int_usage_daily_price_matches,
  stamp every row they write with recomputed_at, the start of the dbt invocation that wrote it
  (run_started_at, with microseconds). A (contract, day) that a run recomputed therefore has rows
  stamped after everything an earlier run wrote, whatever made it recompute them (new events, a
  re-send that turned an accepted copy into a duplicate, a load processed late, a seed edit). A model
  that follows one of them stores, with its rows, the newest stamp of its input when it ran
  (source_recomputed_at), and its next run recomputes what carries a newer stamp. The stamp is wall
  clock time, used only to order runs: no amount depends on it.
#}

{# The stamp of the rows an incremental usage model writes in this invocation: its start, in UTC. #}
{% macro recomputed_at_stamp() -%}
    cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S.%f") }}' as timestamp)
{%- endmacro %}

{#
  The newest recomputed_at of the rows of an incremental usage model, as a scalar sub-query: what a
  following model stores as source_recomputed_at with the rows it writes.
#}
{% macro newest_recomputed_at(relation) -%}
    (select max(recomputed_at) from {{ relation }})
{%- endmacro %}

{#
  The stamp a following model has caught up with: the newest source_recomputed_at it holds, as a
  timestamp literal (1900-01-01 when empty). Only meaningful in an incremental run.
#}
{% macro caught_up_to() -%}
    {{ return(timestamp_literal(query_value_text(
        'select max(source_recomputed_at) from ' ~ this, '1900-01-01 00:00:00'
    ))) }}
{%- endmacro %}

{#
  Whether a per-invoice spend model must recompute every invoice: some of its rows were rated under
  reference data other than the invoice's current fingerprint (int_invoice_reference_fingerprints),
  or belong to an invoice that no longer exists (a contract edit). A pre-hook
  (delete_rows_of_other_invoice_reference_data) removes those rows first. False on a full refresh.
#}
{% macro spend_reference_changed() -%}
    {%- if not is_incremental() -%}
        {{ return(false) }}
    {%- endif -%}
    {{ return(query_value_text(rows_of_other_invoice_reference_data_count(), '0') != '0') }}
{%- endmacro %}

{% macro rows_of_other_invoice_reference_data_count() -%}
    select count(*) from (
        select distinct stored.invoice_id, stored.reference_fingerprint
        from {{ this }} as stored
    ) as stored
    where not exists (
        select 1 from {{ ref('int_invoice_reference_fingerprints') }} as current_fingerprints
        where
            current_fingerprints.invoice_id = stored.invoice_id
            and current_fingerprints.reference_fingerprint = stored.reference_fingerprint
    )
{%- endmacro %}

{#
  Pre-hook of the per-invoice spend models: delete the rows of invoices rated under other reference
  data (or of invoices that no longer exist); the run then recomputes every invoice. Spark cannot
  delete rows: there the run overwrites the whole table instead (static partition mode), as
  delete_rows_of_other_reference_data does for the price matches.
#}
{% macro delete_rows_of_other_invoice_reference_data() -%}
    {{ return(adapter.dispatch('delete_rows_of_other_invoice_reference_data', 'warehouse_billing')()) }}
{%- endmacro %}

{% macro default__delete_rows_of_other_invoice_reference_data() -%}
    {%- if is_incremental() -%}
        delete from {{ this }} as stored
        where not exists (
            select 1 from {{ ref('int_invoice_reference_fingerprints') }} as current_fingerprints
            where
                current_fingerprints.invoice_id = stored.invoice_id
                and current_fingerprints.reference_fingerprint = stored.reference_fingerprint
        )
    {%- endif -%}
{%- endmacro %}

{% macro spark__delete_rows_of_other_invoice_reference_data() -%}
    {%- if is_incremental() and query_value_text(rows_of_other_invoice_reference_data_count(), '0') != '0' -%}
        set spark.sql.sources.partitionOverwriteMode = STATIC
    {%- endif -%}
{%- endmacro %}

{#
  The invoices (contract x billing period) a per-invoice spend model recomputes in an incremental
  run, as two CTEs for the model's with-list (the second, invoices_to_recompute, holds invoice_id and
  period_start). A closed period's spend changes only when its usage or its reference data changes,
  so a run recomputes:
  - every invoice whose price matches were recomputed since the model caught up (source_stamp:
    caught_up_to()), and every later invoice of the same contract: a latest value (a seat count)
    carries forward into the following periods that have no event of their own;
  - every draft invoice (until period_end + invoice_grace_hours), the periods usage still reaches;
  - everything when reference data changed (spend_reference_changed(); the model then reads
    everything instead).
  On Spark a run overwrites whole period_start partitions, so every invoice of a recomputed
  period_start is recomputed.
#}
{% macro spend_invoices_to_recompute_ctes(source_stamp) -%}
    touched_contracts as (

        select
            contract_id,
            min(period_start) as first_touched_period_start
        from {{ ref('int_usage_daily_price_matches') }}
        where recomputed_at > {{ source_stamp }}
        group by contract_id

    ),

    invoices_to_recompute as (

        select
            billing_periods.invoice_id,
            billing_periods.period_start
        from {{ ref('int_contract_billing_periods') }} as billing_periods
        left join touched_contracts
            on
                billing_periods.contract_id = touched_contracts.contract_id
                and billing_periods.period_start >= touched_contracts.first_touched_period_start
        where
        {%- if target.type == 'spark' %}
            billing_periods.period_start in (
                select recomputed.period_start
                from {{ ref('int_contract_billing_periods') }} as recomputed
                left join touched_contracts as touched
                    on
                        recomputed.contract_id = touched.contract_id
                        and recomputed.period_start >= touched.first_touched_period_start
                where recomputed.invoice_status = 'draft' or touched.contract_id is not null
            )
        {%- else %}
            billing_periods.invoice_status = 'draft'
            or touched_contracts.contract_id is not null
        {%- endif %}

    )
{%- endmacro %}

{# The first period_start among the invoices a run recomputes, as a literal (9999-12-31 when none). #}
{% macro first_recomputed_period_start(source_stamp) -%}
    {%- set query -%}
        with {{ spend_invoices_to_recompute_ctes(source_stamp) }}
        select min(period_start) from invoices_to_recompute
    {%- endset -%}
    {{ return(timestamp_literal(query_value_text(query, '9999-12-31 00:00:00'))) }}
{%- endmacro %}

{#
  Pre-hook of a model that follows an incremental usage model (source): when every row of the source
  is newer than what the model caught up with, the source was rebuilt (a full refresh), and rows it no
  longer has may have gone with it; the model then deletes all its rows first and recomputes
  everything it reads (every row of the source carries a newer stamp). On Spark, the run overwrites the
  whole table instead (static partition mode). Nothing on a full refresh of the model itself.
#}
{% macro delete_all_rows_when_source_rebuilt(source_relation) -%}
    {%- if is_incremental() and source_was_rebuilt(source_relation) -%}
        {%- if target.type == 'spark' -%}
            set spark.sql.sources.partitionOverwriteMode = STATIC
        {%- else -%}
            delete from {{ this }}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}

{% macro source_was_rebuilt(source_relation) -%}
    {%- set oldest_source_row = query_value_text('select min(recomputed_at) from ' ~ source_relation, '') -%}
    {%- set caught_up = query_value_text('select max(source_recomputed_at) from ' ~ this, '') -%}
    {{ return(oldest_source_row != '' and caught_up != '' and timestamp_text_before(caught_up, oldest_source_row)) }}
{%- endmacro %}
