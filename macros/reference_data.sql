{#
  Post-hook of int_reference_data_errors: fail the build naming every offending row, so an analytics
  engineer sees "prices row std_seats: ..." for each problem instead of a count of failing rows.
#}
{% macro fail_on_reference_data_errors() -%}
    {%- if execute -%}
        {%- set result = run_query(
            "select seed_name, row_key, problem from " ~ this ~ " order by seed_name, row_key, problem"
        ) -%}
        {%- if result.rows | length > 0 -%}
            {%- set lines = [] -%}
            {%- for row in result.rows -%}
                {%- do lines.append("  - " ~ row[0] ~ " row " ~ row[1] ~ ": " ~ row[2]) -%}
            {%- endfor -%}
            {{ exceptions.raise_compiler_error(
                "Bad reference data (" ~ (result.rows | length) ~ " problems; fix the seeds):\n"
                ~ (lines | join("\n"))
            ) }}
        {%- endif -%}
    {%- endif -%}
    {#- nothing to run: dbt skips a hook that renders empty -#}
{%- endmacro %}

{#
  A fingerprint of reference data: md5 over the given columns of every row of each relation, as one
  query returning one text value. An incremental model stores it with its rows and rebuilds them all
  when it changes, so a seed edit in a pull request reaches every day already rated, not only new
  ones. relations_columns: a list of (relation, [column, ...], where condition or none).
#}
{% macro reference_fingerprint_query(relations_columns) -%}
    {%- set row_texts = [] -%}
    {%- for relation, columns, condition in relations_columns -%}
        {%- set row_text -%}
            select '{{ loop.index }}|' || {{ fingerprint_row_text(columns) }} as row_text
            from {{ relation }}
            {%- if condition %} where {{ condition }}{% endif %}
        {%- endset -%}
        {%- do row_texts.append(row_text) -%}
    {%- endfor -%}
    select md5({{ sorted_text_agg('row_text', "'\n'") }}) as reference_fingerprint
    from (
        {{ row_texts | join("\n        union all\n") }}
    ) as reference_rows
{%- endmacro %}

{#
  One row of reference data as text for a fingerprint: the given column expressions cast to text,
  '~' for null, joined by '|'. Casts give the same text for the same value within one warehouse
  (seeds declare their types), which is all a fingerprint compares.
#}
{% macro fingerprint_row_text(columns) -%}
    {%- set parts = [] -%}
    {%- for column in columns -%}
        {%- do parts.append("coalesce(cast(" ~ column ~ " as " ~ dbt.type_string() ~ "), '~')") -%}
    {%- endfor -%}
    {{ parts | join(" || '|' || ") }}
{%- endmacro %}

{#
  The reference data int_usage_daily_price_matches matches usage against: usage prices, seats prices
  (a contract's own replaces its rate card's usage price of the product) and contracts.
#}
{% macro usage_pricing_fingerprint_query() -%}
    {{ return(reference_fingerprint_query([
        (ref('int_prices_resolved'),
         ['price_id', 'rate_card_id', 'contract_id', 'product_id', 'metric_id', 'charge_type',
          'dimension_value_1', 'dimension_value_2', 'dimension_value_3', 'specificity',
          'effective_from', 'effective_to'],
         "charge_type = 'usage' or metric_id is not null"),
        (ref('stg_seed__contracts'),
         ['contract_id', 'customer_id', 'rate_card_id', 'currency', 'starts_at', 'ends_at',
          'billing_period', 'billing_anchor'],
         none),
    ])) }}
{%- endmacro %}

{#
  Pre-hook of an incremental model that stores reference_fingerprint: delete its rows written under
  other reference data. The model rewrites every row it still has in that case; rows it would no
  longer write (a day outside every billing period after a contract edit) must not survive either.
  Deletes nothing when the fingerprint is unchanged, and nothing on a full refresh or a first run.
#}
{% macro delete_rows_of_other_reference_data(fingerprint_query) -%}
    {{ return(adapter.dispatch('delete_rows_of_other_reference_data', 'warehouse_billing')(fingerprint_query)) }}
{%- endmacro %}

{% macro default__delete_rows_of_other_reference_data(fingerprint_query) -%}
    {%- if is_incremental() -%}
        delete from {{ this }}
        where reference_fingerprint <> ({{ fingerprint_query }})
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}

{#
  Spark cannot delete rows: when rows of other reference data exist, the model's run (which then
  rates everything) overwrites the whole table instead of only the partitions it writes (static
  partition overwrite; dbt-spark sets dynamic mode before the pre-hooks of each partitioned model).
#}
{% macro spark__delete_rows_of_other_reference_data(fingerprint_query) -%}
    {%- if is_incremental() and query_value_text(
        "select count(*) from " ~ this ~ " where reference_fingerprint <> (" ~ fingerprint_query ~ ")", '0'
    ) != '0' -%}
        set spark.sql.sources.partitionOverwriteMode = STATIC
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}

{#
  The reference data the threshold replay (int_threshold_product_steps) rates events with: the prices
  and their tiers, which contracts have thresholds, the billing periods of those contracts (their
  coverage and close: a contract edit moves them), currencies, and the charge terms (overrides,
  discounts; the maximum is a price column). A new billing period changes it too, so the replay starts
  over once a period (rarely: the periods are not that short), which keeps the rule simple.
#}
{% macro threshold_replay_fingerprint_query() -%}
    {{ return(reference_fingerprint_query([
        (ref('int_prices_resolved'),
         ['price_id', 'rate_card_id', 'contract_id', 'product_id', 'charge_type', 'metric_id', 'aggregation',
          'pricing_model', 'unit_price', 'flat_amount', 'package_size', 'package_rounding', 'free_units',
          'percentage_rate', 'fixed_fee_per_event', 'min_per_event', 'max_per_event', 'minimum_amount',
          'maximum_amount', 'dimension_value_1', 'dimension_value_2', 'dimension_value_3', 'specificity',
          'effective_from', 'effective_to'],
         none),
        (ref('int_price_tiers_bounded'), ['price_id', 'tier', 'lower_bound', 'up_to', 'unit_price', 'flat_fee'], none),
        (ref('stg_seed__billing_thresholds'), ['contract_id'], none),
        (ref('int_contract_billing_periods'),
         ['invoice_id', 'contract_id', 'rate_card_id', 'currency', 'coverage_starts_at', 'coverage_ends_at',
          'closes_at'],
         'contract_id in (select contract_id from ' ~ ref('stg_seed__billing_thresholds') ~ ')'),
        (ref('stg_seed__currencies'), ['currency', 'minor_units'], none),
        (ref('stg_seed__price_overrides'),
         ['contract_id', 'product_id', 'multiplier', 'effective_from', 'effective_to'], none),
        (ref('stg_seed__discounts'),
         ['discount_id', 'contract_id', 'product_id', 'discount_type', 'discount_value', 'starts_at', 'ends_at'],
         none),
    ])) }}
{%- endmacro %}

{#
  Pre-hook of the models incremental by invoice (int_charge_quantities_from_events and
  int_threshold_product_steps, on DuckDB and Postgres): delete the invoices (contract x billing period)
  the run must compute again, so that the model then computes exactly the invoices it no longer holds:
  - every invoice, when the reference data (fingerprint_query) differ from those its rows were written
    with, or the table predates the fingerprint column;
  - the invoices whose billing period the batch's newly classified rows fall in (accepted or duplicate:
    a row that turns an earlier accepted copy into a duplicate changes that period too). A day is
    matched to every period it overlaps, so a period starting or ending mid-day is never missed.
  Invoices never computed (a new period, or one whose usage arrived before it existed) are not in the
  table, so the model computes them as well. Nothing to delete on a full refresh, a first run, or on
  Spark, where these models are tables rebuilt whole (Spark cannot delete rows: decision 41).
  The rows carry classified_through, the newest ingested_at the classification held when they were
  written: the next run's batch starts there.
#}
{% macro delete_invoices_to_recompute(fingerprint_query) -%}
    {%- if not is_incremental() -%}
        select 1
    {%- elif 'reference_fingerprint' not in (adapter.get_columns_in_relation(this) | map(attribute='name')
                                                 | map('lower') | list) -%}
        delete from {{ this }}
    {%- elif query_value_text('select count(*) from (select 1 from ' ~ this ~ ' limit 1) as any_row', '0') == '0' -%}
        {#- nothing to delete, and no watermark: the batch would be every classified row (a project
            without billing thresholds keeps int_threshold_product_steps empty) -#}
        select 1
    {%- else -%}
        delete from {{ this }}
        where
            reference_fingerprint <> ({{ fingerprint_query }})
            or invoice_id in (
                select billing_periods.invoice_id
                from {{ ref('int_contract_billing_periods') }} as billing_periods
                inner join (
                    select distinct
                        contract_id,
                        usage_date
                    from {{ ref('int_usage_events_classified') }}
                    where
                        event_status <> 'quarantined'
                        and {{ in_incremental_batch('ingested_at', 'classified_through') }}
                ) as touched_days
                    on
                        billing_periods.contract_id = touched_days.contract_id
                        and touched_days.usage_date >= cast(billing_periods.coverage_starts_at as date)
                        and touched_days.usage_date <= cast(billing_periods.coverage_ends_at as date)
            )
    {%- endif -%}
{%- endmacro %}

{#
  The two CTEs a model incremental by invoice writes on every row (cross joined into its final CTE):
  reference_fingerprint, the reference data it computed with, and classified_through, the newest
  ingested_at the classification held. The pre-hook of its next run (delete_invoices_to_recompute)
  compares both.
#}
{% macro invoice_recompute_bookkeeping_ctes(fingerprint_query) -%}
reference_fingerprint as (

    {{ fingerprint_query }}

),

classified_through as (

    select max(ingested_at) as classified_through
    from {{ ref('int_usage_events_classified') }}

)
{%- endmacro %}
