{#
  Post-hook of int_reference_data_errors: fail the build with the offending rows named, so an
  analytics engineer sees "prices row std_seats: ..." instead of a count of failing rows.
#}
{% macro fail_on_reference_data_errors(max_rows=20) -%}
    {%- if execute -%}
        {%- set result = run_query(
            "select seed_name, row_key, problem from " ~ this ~ " order by seed_name, row_key, problem"
        ) -%}
        {%- if result.rows | length > 0 -%}
            {%- set lines = [] -%}
            {%- for row in result.rows[:max_rows] -%}
                {%- do lines.append("  - " ~ row[0] ~ " row " ~ row[1] ~ ": " ~ row[2]) -%}
            {%- endfor -%}
            {{ exceptions.raise_compiler_error(
                "Bad reference data (" ~ (result.rows | length) ~ " problems; fix the seeds):\n"
                ~ (lines | join("\n"))
            ) }}
        {%- endif -%}
    {%- endif -%}
    select 1
{%- endmacro %}
