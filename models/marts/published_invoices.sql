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
  The invoices finance has sent: append-only, written only by the publication step. The Dagster
  invoice publication job's gated step records an approval of the ready invoices once every blocking
  check passed, then runs this model with vars publish = true and publication_approval_id: only
  approved invoices are appended (macros/publication_approval.sql). Any other run, full refreshes and
  a bare `dbt run --vars '{publish: true}'` included, appends nothing and never rebuilds the table
  (full_refresh = false). Invoice numbers continue the sequence without gaps, in publication order.
#}
with

ready_invoices as (

    select * from {{ ref('invoices') }}
    where status = 'ready'

),

{# held by a per-invoice check (the approval leaves them out too) #}
held_invoices as (

    select distinct invoice_id from {{ ref('invoice_holds') }}

),

{% if is_incremental() %}
already_published as (

    select invoice_id from {{ this }}

),

last_number as (

    select coalesce(max(invoice_number), 0) as last_invoice_number from {{ this }}

),
{% else %}
    already_published as (

        select cast(null as {{ dbt.type_string() }}) as invoice_id
        where 1 = 0

    ),

    last_number as (

        select 0 as last_invoice_number

    ),
{% endif %}

to_publish as (

    select ready_invoices.*
    from ready_invoices
    where
        {{ approved_for_publication('ready_invoices.invoice_id') }}
        and not exists (
            select 1
            from already_published
            where already_published.invoice_id = ready_invoices.invoice_id
        )
        and not exists (
            select 1
            from held_invoices
            where held_invoices.invoice_id = ready_invoices.invoice_id
        )

),

final as (

    select
        to_publish.*,
        cast(
            last_number.last_invoice_number
            {# issue order: a period invoice is issued at its close, an opening invoice at its contract's
               start, a threshold invoice when its level was reached (two of one load in sequence order) #}
            + row_number()
                over (
                    order by
                        to_publish.issued_at, to_publish.customer_id, coalesce(to_publish.threshold_sequence, 0),
                        to_publish.invoice_id
                )
            as bigint
        ) as invoice_number,
        {{ as_of() }} as published_at
    from to_publish
    cross join last_number

)

select * from final
