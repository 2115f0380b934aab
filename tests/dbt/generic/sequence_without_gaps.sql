{# Fails unless the column holds exactly 1, 2, ..., n: no gap, no duplicate, no zero. #}
{% test sequence_without_gaps(model, column_name) %}

select
    count(*) as row_count,
    count(distinct {{ column_name }}) as distinct_count,
    min({{ column_name }}) as first_number,
    max({{ column_name }}) as last_number
from {{ model }}
having
    count(*) > 0
    and (
        min({{ column_name }}) <> 1
        or max({{ column_name }}) <> count(*)
        or count(distinct {{ column_name }}) <> count(*)
    )

{% endtest %}
