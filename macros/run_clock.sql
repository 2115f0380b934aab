{#
  The run's clock. Every model that needs "now" calls as_of(), so a rerun with the same inputs and the
  same var gives identical output. Without the var, dbt's own run start time (UTC) is used, which is
  still one fixed instant for the whole run.
#}
{% macro as_of() -%}
    {%- set value = run_var('as_of') -%}
    {%- if value is none or value == '' -%}
        {%- set value = run_started_at.strftime('%Y-%m-%d %H:%M:%S') -%}
    {%- endif -%}
    cast('{{ value | replace("T", " ") | replace("Z", "") }}' as timestamp)
{%- endmacro %}

{#
  A value that changes with every run (as_of, publish, ingested_from, ingested_to,
  publication_approval_id): from the JSON object in the environment variable BILLING_DBT_RUN_VARS when
  it names it (the Dagster steps pass them so), else dbt's --vars. The environment is read only while
  dbt executes, never while it parses: dbt compares a parse's --vars, and records the environment
  variables a parse reads, with the last parse's, and a value that differs every run would cost a full
  parse of the project at every step of every run (issue 16, decision 59).
#}
{% macro run_var(name, default=none) -%}
    {%- if execute -%}
        {%- set from_environment = fromjson(env_var('BILLING_DBT_RUN_VARS', '{}')) -%}
        {%- if name in from_environment -%}
            {{ return(from_environment[name]) }}
        {%- endif -%}
    {%- endif -%}
    {{ return(var(name, default)) }}
{%- endmacro %}
