{#
  Fails on every row where the expression is false or null. dbt_utils has the same test, but dbt hub
  packages cannot be installed here (TOOLCHAIN.md), so the project keeps its own few generic tests.
#}
{% test expression_is_true(model, expression, column_name=none, where_clause=none) %}

select *
from {{ model }}
where not coalesce({{ expression }}, false)
{% if where_clause %}
    and ({{ where_clause }})
{% endif %}

{% endtest %}
