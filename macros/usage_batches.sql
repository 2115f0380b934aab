{#
  The raw rows an incremental model processes in this run, with a stable key per raw row.

  A run takes every staged row whose ingested_at is at or after the newest ingested_at already in the
  model: the newest slice is recomputed (delete+insert on raw_row_key replaces it) so rows landed
  later with that same ingested_at are never missed. Full refresh takes every row. Rows replayed with
  an ingested_at older than the model's newest row need a full refresh (decision log).

  raw_row_key: two raw rows can be identical in every column (a file landed twice in one load), so
  the key adds the row's occurrence number among identical rows.
#}
{% macro raw_usage_batch() -%}
    select
        md5(
            staged.event_payload_hash || '|' || cast(staged.ingested_at as {{ dbt.type_string() }}) || '|'
            || cast(
                row_number() over (
                    partition by staged.event_payload_hash, staged.ingested_at
                    order by staged.event_payload_hash
                ) as {{ dbt.type_string() }}
            )
        ) as raw_row_key,
        staged.*
    from {{ ref('stg_raw__usage_events') }} as staged
    {% if is_incremental() %}
        where staged.ingested_at >= {{ incremental_batch_start() }}
    {% endif %}
{%- endmacro %}

{% macro incremental_batch_start() -%}
    (select coalesce(max(ingested_at), cast('1900-01-01' as timestamp)) from {{ this }})
{%- endmacro %}

{# Rows of a JSON object of arrays, {"property": ["a", "b"]}, as (key, element text) pairs. #}
{% macro json_object_of_arrays_rows(relation_alias, json_text_column) -%}
    {{ return(adapter.dispatch('json_object_of_arrays_rows', 'warehouse_billing')(relation_alias, json_text_column)) }}
{%- endmacro %}

{% macro duckdb__json_object_of_arrays_rows(relation_alias, json_text_column) -%}
    json_each(cast({{ relation_alias }}.{{ json_text_column }} as json)) as object_entry,
    json_each(object_entry.value) as array_element
{%- endmacro %}

{% macro postgres__json_object_of_arrays_rows(relation_alias, json_text_column) -%}
    lateral jsonb_each(cast({{ relation_alias }}.{{ json_text_column }} as jsonb)) as object_entry,
    lateral jsonb_array_elements(object_entry.value) as array_element(value)
{%- endmacro %}

{% macro json_element_text(json_expr) -%}
    {{ return(adapter.dispatch('json_element_text', 'warehouse_billing')(json_expr)) }}
{%- endmacro %}

{% macro duckdb__json_element_text(json_expr) -%}
    ({{ json_expr }} ->> '$')
{%- endmacro %}

{% macro postgres__json_element_text(json_expr) -%}
    ({{ json_expr }} #>> '{}')
{%- endmacro %}
