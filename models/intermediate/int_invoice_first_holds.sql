{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        full_refresh=false,
        tags=['holds'],
    )
}}
{#
  When each ready invoice was first held by each per-invoice check: one row per invoice x check, the
  run's as_of when a run first found that check failing. Append-only and kept through full refreshes
  (full_refresh = false), like the published tables: it is the memory invoice_holds reads
  first_held_at from. A hold that is released and comes back keeps its first date.
#}
with

held_now as (

    select distinct
        invoice_id,
        check_name
    from {{ ref('int_invoice_check_failures') }}
    where status = 'ready'

),

{% if is_incremental() %}
known as (

    select
        invoice_id,
        check_name
    from {{ this }}

),
{% else %}
    known as (

        select
            cast(null as {{ dbt.type_string() }}) as invoice_id,
            cast(null as {{ dbt.type_string() }}) as check_name
        where 1 = 0

    ),
{% endif %}

final as (

    select
        held_now.invoice_id,
        held_now.check_name,
        {{ as_of() }} as first_held_at
    from held_now
    where not exists (
        select 1
        from known
        where known.invoice_id = held_now.invoice_id and known.check_name = held_now.check_name
    )

)

select * from final
