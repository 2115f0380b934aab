{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        full_refresh=false,
        on_schema_change='append_new_columns',
        tags=['publication'],
        pre_hook="{{ publication_lock() }}",
    )
}}
{#
  The lines of published invoices, append-only like published_invoices and written in the same
  publication step. Lines are taken for every published invoice whose lines are not yet here, so a
  step that stopped between the two tables completes on the next publication.
#}
with

invoice_lines as (

    select * from {{ ref('invoice_lines') }}

),

published_invoices as (

    select * from {{ ref('published_invoices') }}

),

{% if is_incremental() %}
already_published as (

    select distinct invoice_id from {{ this }}

),
{% else %}
    already_published as (

        select cast(null as {{ dbt.type_string() }}) as invoice_id
        where 1 = 0

    ),
{% endif %}

final as (

    select
        invoice_lines.*,
        published_invoices.invoice_number,
        published_invoices.published_at
    from invoice_lines
    inner join published_invoices
        on invoice_lines.invoice_id = published_invoices.invoice_id
    where
        {{ 'true' if run_var('publish', false) else 'false' }}
        and not exists (
            select 1
            from already_published
            where already_published.invoice_id = invoice_lines.invoice_id
        )

)

select * from final
