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
  The reference data each published invoice was rated under: its fingerprint
  (int_invoice_reference_fingerprints) when it was published. Append-only and written only by the gated
  publication step, like published_invoices, under the same approval (a bare publish run appends
  nothing). int_rebill_pending_invoices compares today's fingerprint with this one, so an edit of the
  seeds never rebills a published invoice silently (SPEC 6.1). The full reference data of that day can
  be read back from the snapshots (snapshots/) by the time of published_at.

  Every published invoice without a row gets one, so a step stopped between the tables completes on
  the next publication. An invoice published before fingerprints were recorded gets today's as a
  baseline (is_recorded_at_publication false, decision 49): edits before that run cannot be told
  apart any more, edits after it are held.
#}
with

published_invoices as (

    select * from {{ ref('published_invoices') }}

),

fingerprints as (

    select * from {{ ref('int_invoice_reference_fingerprints') }}

),

{% if is_incremental() %}
already_recorded as (

    select invoice_id from {{ this }}

),
{% else %}
    already_recorded as (

        select cast(null as {{ dbt.type_string() }}) as invoice_id
        where 1 = 0

    ),
{% endif %}

final as (

    select
        published_invoices.invoice_id,
        fingerprints.reference_fingerprint,
        published_invoices.published_at = {{ as_of() }} as is_recorded_at_publication,
        {{ as_of() }} as recorded_at
    from published_invoices
    inner join fingerprints
        on published_invoices.invoice_id = fingerprints.invoice_id
    where
        {{ publication_approved_in_this_run() }}
        and not exists (
            select 1
            from already_recorded
            where already_recorded.invoice_id = published_invoices.invoice_id
        )

)

select * from final
