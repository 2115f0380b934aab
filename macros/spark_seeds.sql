{#
  Seeds on Spark. dbt-spark 1.11's session connection renders the bound values of its seed inserts
  itself: every number through a float (an exact decimal loses digits), an empty cell as the text
  'None', and text without escaping its quotes (O'Brien is a syntax error). Reference data must arrive
  exactly as written, so on Spark the rows are written as literals here instead, each cast to the
  seed's column type as dbt-spark does. dbt uses a root project's version of an adapter macro first.
#}
{% macro spark__load_csv_rows(model, agate_table) %}
    {%- set column_override = model['config'].get('column_types', {}) -%}
    {%- set statements = [] -%}
    {%- for chunk in agate_table.rows | batch(get_batch_size()) -%}
        {%- set sql -%}
            insert into {{ this.render() }} values
            {% for row in chunk -%}
                ({%- for value in row -%}
                    {%- set inferred_type = adapter.convert_type(agate_table, loop.index0) -%}
                    {%- set type = column_override.get(agate_table.column_names[loop.index0], inferred_type) -%}
                    cast({{ spark_seed_literal(value) }} as {{ type }})
                    {%- if not loop.last %}, {% endif -%}
                {%- endfor -%})
                {%- if not loop.last %},{% endif %}
            {% endfor -%}
        {%- endset -%}
        {%- do adapter.add_query(sql, abridge_sql_log=True) -%}
        {%- do statements.append(sql) -%}
    {%- endfor -%}
    {{ return(statements[0] if statements else '') }}
{% endmacro %}

{# A Spark SQL literal of one seed value: backslash and single quote escaped, as Spark reads them. #}
{% macro spark_seed_literal(value) -%}
    {%- if value is none -%}
        null
    {%- elif value is sameas true or value is sameas false -%}
        {{ value | string | lower }}
    {%- elif value.strftime is defined -%}
        '{{ value.strftime('%Y-%m-%d %H:%M:%S.%f') }}'
    {%- else -%}
        '{{ value | string | replace('\\', '\\\\') | replace("'", "\\'") }}'
    {%- endif -%}
{%- endmacro %}
