{#
  The run's clock. Every model that needs "now" calls as_of(), so a rerun with the same inputs and the
  same var gives identical output. Without the var, dbt's own run start time (UTC) is used, which is
  still one fixed instant for the whole run.
#}
{% macro as_of() -%}
    {%- set value = var('as_of', none) -%}
    {%- if value is none or value == '' -%}
        {%- set value = run_started_at.strftime('%Y-%m-%d %H:%M:%S') -%}
    {%- endif -%}
    cast('{{ value | replace("T", " ") | replace("Z", "") }}' as timestamp)
{%- endmacro %}
