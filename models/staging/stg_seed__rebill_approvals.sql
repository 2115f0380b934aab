{#
  A row is known by everything it says (rebill_approval_id): the seed has no id column (SPEC 6.1), and
  a second approval of the same invoice is a new row with another approver or reason.
#}
with

source as (

    select * from {{ ref('rebill_approvals') }}

),

trimmed as (

    select
        nullif(trim(contract_id), '') as contract_id,
        period_start,
        nullif(trim(approved_by), '') as approved_by,
        nullif(trim(reason), '') as reason
    from source

),

final as (

    select
        {{ dbt.hash(
            "coalesce(contract_id, '') || '|' || coalesce(cast(period_start as " ~ dbt.type_string()
            ~ "), '') || '|' || coalesce(approved_by, '') || '|' || coalesce(reason, '')"
        ) }} as rebill_approval_id,
        contract_id,
        period_start,
        approved_by,
        reason
    from trimmed

)

select * from final
