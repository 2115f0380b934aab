{#
  Fails on every combination of the columns that occurs more than once.
  ingested_at_column (optional): for per-row records whose key includes their ingested_at, so that two
  rows with one key share it; the freshness sensor's runs then test only the rows ingested in the days
  they were started for (macro tested_rows_condition), which finds every repeated key among them.
#}
{% test unique_combination_of_columns(model, combination_of_columns, ingested_at_column=none) %}

{%- if combination_of_columns | length == 0 -%}
    {{ exceptions.raise_compiler_error("unique_combination_of_columns needs at least one column") }}
{%- endif %}

select
    {{ combination_of_columns | join(', ') }},
    count(*) as occurrences
from {{ model }}
{%- if ingested_at_column %}
where {{ tested_rows_condition(ingested_at_column) }}
{%- endif %}
group by {{ combination_of_columns | join(', ') }}
having count(*) > 1

{% endtest %}
