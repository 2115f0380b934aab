{# Fails when the model has any row: for models that list problems, such as unpriced usage. #}
{% test has_no_rows(model) %}

select * from {{ model }}

{% endtest %}
