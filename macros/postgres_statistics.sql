{#
  Postgres plans joins from table statistics, and a table dbt has just built has none until
  autovacuum comes by: without them it chose nested loops over 200k rows. So on Postgres the table and
  incremental materializations are dbt's own, followed by an ANALYZE of the table they built.

  Not a model post-hook (decision 70): dbt renders every model's hooks on every engine, about 12 ms a
  node on DuckDB for a hook that renders to nothing there.
#}
{% materialization table, adapter='postgres' %}
    {%- set built = materialization_table_default() -%}
    {%- do analyze_built_relations(built) -%}
    {{ return(built) }}
{% endmaterialization %}

{% materialization incremental, adapter='postgres' %}
    {%- set built = materialization_incremental_default() -%}
    {%- do analyze_built_relations(built) -%}
    {{ return(built) }}
{% endmaterialization %}

{#- dbt's materializations have committed their work; ANALYZE in a transaction of its own -#}
{% macro analyze_built_relations(built) %}
    {%- for relation in built['relations'] -%}
        {%- call statement('analyze_' ~ loop.index) -%}
            analyze {{ relation }}
        {%- endcall -%}
    {%- endfor -%}
    {%- do adapter.commit() -%}
{% endmacro %}
