{#
  The published tables are read by the late-event models (int_late_adjustment_lines, int_credit_draws)
  while the publication models themselves read invoice_lines: a ref() would close a cycle, so those
  models look the tables up as relations. Before the first publication they do not exist, and an
  empty selection with the same columns stands in.
#}
{% macro published_relation(identifier) -%}
    {%- if execute -%}
        {%- set relation = adapter.get_relation(
            database=target.database, schema=target.schema, identifier=identifier
        ) -%}
        {{ return(relation) }}
    {%- endif -%}
    {{ return(none) }}
{%- endmacro %}

{# Published invoice lines, or an empty set with the columns the late-event models read. #}
{% macro published_invoice_lines_or_empty() -%}
    {%- set relation = published_relation('published_invoice_lines') -%}
    {%- if relation is not none -%}
        select
            invoice_line_id,
            invoice_id,
            line_type,
            product_id,
            product_name,
            metric_id,
            dimensions,
            amount,
            quantity,
            grant_id,
            adjusts_invoice_id,
            adjusts_invoice_line_id
        from {{ relation }}
    {%- else -%}
        select
            cast(null as {{ dbt.type_string() }}) as invoice_line_id,
            cast(null as {{ dbt.type_string() }}) as invoice_id,
            cast(null as {{ dbt.type_string() }}) as line_type,
            cast(null as {{ dbt.type_string() }}) as product_id,
            cast(null as {{ dbt.type_string() }}) as product_name,
            cast(null as {{ dbt.type_string() }}) as metric_id,
            cast(null as {{ dbt.type_string() }}) as dimensions,
            cast(null as {{ exact_decimal_type() }}) as amount,
            cast(null as {{ exact_decimal_type() }}) as quantity,
            cast(null as {{ dbt.type_string() }}) as grant_id,
            cast(null as {{ dbt.type_string() }}) as adjusts_invoice_id,
            cast(null as {{ dbt.type_string() }}) as adjusts_invoice_line_id
        where 1 = 0
    {%- endif -%}
{%- endmacro %}

{# Ids of published invoices, or an empty set. #}
{% macro published_invoice_ids_or_empty() -%}
    {%- set relation = published_relation('published_invoices') -%}
    {%- if relation is not none -%}
        select invoice_id from {{ relation }}
    {%- else -%}
        select cast(null as {{ dbt.type_string() }}) as invoice_id where 1 = 0
    {%- endif -%}
{%- endmacro %}

{#
  Pre-hook of the publication models: two publications must not number invoices at the same time.
  On Postgres a transaction-level advisory lock makes the second wait until the first has committed,
  so it sees the first one's rows (and numbers) before it appends its own. DuckDB allows one writer
  per file: a second writer fails to open it, and the Dagster run queue (dagster_home/dagster.yaml)
  runs one job at a time.
#}
{% macro publication_lock() -%}
    {{ return(adapter.dispatch('publication_lock', 'warehouse_billing')()) }}
{%- endmacro %}

{% macro default__publication_lock() -%}
    {#- nothing to run: dbt skips a hook that renders empty -#}
{%- endmacro %}

{% macro postgres__publication_lock() -%}
    select pg_advisory_xact_lock(hashtext('warehouse_billing.publication'))
{%- endmacro %}

{#
  The reference-data fingerprint each published invoice was rated under (published_invoice_reference_data,
  written by the publication step), or an empty set before the first publication (int_rebill_pending_invoices).
#}
{% macro published_reference_fingerprints_or_empty() -%}
    {%- set relation = published_relation('published_invoice_reference_data') -%}
    {%- if relation is not none -%}
        select
            invoice_id,
            reference_fingerprint
        from {{ relation }}
    {%- else -%}
        select
            cast(null as {{ dbt.type_string() }}) as invoice_id,
            cast(null as {{ dbt.type_string() }}) as reference_fingerprint
        where 1 = 0
    {%- endif -%}
{%- endmacro %}
