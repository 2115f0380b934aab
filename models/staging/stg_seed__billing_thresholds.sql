{#
  Progressive billing levels of a contract (SPEC 6.2): a threshold invoice is issued when the period's
  running usage amount reaches amount_due; a recurring row is reached at every multiple of it. The
  seed has no id column: a row is known by its contract, amount and kind (billing_threshold_id).
#}
with

source as (

    select * from {{ ref('billing_thresholds') }}

),

final as (

    select
        {{ dbt.hash(
            "coalesce(trim(contract_id), '') || '|' || coalesce(cast(amount_due as " ~ dbt.type_string()
            ~ "), '') || '|' || case when recurring then 'recurring' else 'once' end"
        ) }} as billing_threshold_id,
        nullif(trim(contract_id), '') as contract_id,
        amount_due,
        coalesce(recurring, false) as is_recurring
    from source

)

select * from final
