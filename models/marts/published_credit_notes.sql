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
  The credit notes finance has issued (SPEC 6.1): append-only, written only by the publication step,
  like published_invoices. A credit note is appended once the invoice it names is published, in a run
  with publish = true under an approval the gated step recorded at this run's as_of
  (macros/publication_approval.sql); any other run, a bare `dbt run --vars '{publish: true}'` and full
  refreshes included, appends nothing. amount is what it credits: the seed's, or the invoice's whole
  total_due when empty. Credit note numbers continue their own sequence without gaps, in publication
  order. A credit note with a reference-data problem (int_reference_errors__credit_notes) is never
  appended.
#}
with

credit_notes as (

    select * from {{ ref('stg_seed__credit_notes') }}

),

published_invoices as (

    select * from {{ ref('published_invoices') }}

),

credit_note_errors as (

    select distinct row_key as credit_note_id
    from {{ ref('int_reference_errors__credit_notes') }}

),

{% if is_incremental() %}
already_published as (

    select credit_note_id from {{ this }}

),

last_number as (

    select coalesce(max(credit_note_number), 0) as last_credit_note_number from {{ this }}

),
{% else %}
    already_published as (

        select cast(null as {{ dbt.type_string() }}) as credit_note_id
        where 1 = 0

    ),

    last_number as (

        select 0 as last_credit_note_number

    ),
{% endif %}

{# every credit note of a published invoice, with what it and the earlier ones credit #}
resolved as (

    select
        credit_notes.credit_note_id,
        credit_notes.invoice_number,
        coalesce(credit_notes.amount, published_invoices.total_due) as amount,
        credit_notes.reason,
        credit_notes.approved_by,
        credit_notes.issued_at,
        published_invoices.invoice_id,
        published_invoices.customer_id,
        published_invoices.currency,
        published_invoices.total_due,
        sum(coalesce(credit_notes.amount, published_invoices.total_due)) over (
            partition by credit_notes.invoice_number
            order by credit_notes.issued_at, credit_notes.credit_note_id
            rows between unbounded preceding and current row
        ) as credited_so_far
    from credit_notes
    inner join published_invoices
        on credit_notes.invoice_number = published_invoices.invoice_number

),

to_publish as (

    select resolved.*
    from resolved
    where
        {{ publication_approved_in_this_run() }}
        and resolved.amount > 0
        and resolved.credited_so_far <= resolved.total_due
        and not exists (
            select 1
            from already_published
            where already_published.credit_note_id = resolved.credit_note_id
        )
        and not exists (
            select 1
            from credit_note_errors
            where credit_note_errors.credit_note_id = resolved.credit_note_id
        )

),

final as (

    select
        to_publish.credit_note_id,
        to_publish.invoice_number,
        cast(to_publish.amount as {{ money_type() }}) as amount,
        to_publish.reason,
        to_publish.approved_by,
        to_publish.issued_at,
        to_publish.invoice_id,
        to_publish.customer_id,
        to_publish.currency,
        cast(
            last_number.last_credit_note_number
            + row_number() over (order by to_publish.issued_at, to_publish.credit_note_id)
            as bigint
        ) as credit_note_number,
        {{ as_of() }} as published_at
    from to_publish
    cross join last_number

)

select * from final
