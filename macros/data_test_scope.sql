{#
  The rows a data test on per-row records reads. The freshness sensor's refresh runs (decision 69)
  pass the ingestion days they were started for as run vars tests_ingested_from / tests_ingested_to:
  their tests then read the rows ingested in those days, the rows that run added, instead of every
  per-row record of the history at every run. Every other run (the daily publication job, a full
  refresh, CI) passes neither and tests the whole table, so nothing is published unchecked.
  Rendered while dbt executes, like every run var (macro run_var).
#}
{% macro tested_rows_are_scoped() -%}
    {{ return(run_var('tests_ingested_from', none) not in (none, '')) }}
{%- endmacro %}

{% macro tested_rows_condition(ingested_at_column) -%}
    {%- set tested_from = run_var('tests_ingested_from', none) -%}
    {%- set tested_to = run_var('tests_ingested_to', none) -%}
    {%- if tested_rows_are_scoped() -%}
        {{ ingested_at_column }} >= {{ timestamp_literal(tested_from) }}
        {%- if tested_to %} and {{ ingested_at_column }} < {{ timestamp_literal(tested_to) }}{% endif -%}
    {%- else -%}
        1 = 1
    {%- endif -%}
{%- endmacro %}
