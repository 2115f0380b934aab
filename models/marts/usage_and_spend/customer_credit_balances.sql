{#
  One row per credit grant (SPEC 6.3): what was granted, drawn and expired over every invoice so far
  (the open period's draft included, so the balance is what is left if the customer stopped using the
  product now), the remaining balance and when the grant expires. From credit_ledger, whose draws are
  the invoices' credit lines.
#}
with

ledger as (

    select * from {{ ref('credit_ledger') }}

),

grants as (

    select * from {{ ref('stg_seed__credit_grants') }}

),

contracts as (

    select * from {{ ref('stg_seed__contracts') }}

),

latest_invoice as (

    select
        grant_id,
        max(invoice_sequence) as latest_invoice_sequence
    from ledger
    group by grant_id

),

totals as (

    select
        ledger.grant_id,
        sum(ledger.drawn_amount) as drawn_amount,
        sum(ledger.expired_amount) as expired_amount
    from ledger
    group by ledger.grant_id

),

final as (

    select
        grants.grant_id,
        grants.contract_id,
        contracts.customer_id,
        contracts.currency,
        grants.grant_type,
        cast(grants.amount as {{ money_type() }}) as granted_amount,
        cast(coalesce(totals.drawn_amount, 0) as {{ money_type() }}) as drawn_amount,
        cast(coalesce(totals.expired_amount, 0) as {{ money_type() }}) as expired_amount,
        cast(coalesce(ledger.closing_balance, grants.amount) as {{ money_type() }}) as remaining_balance,
        grants.starts_at,
        grants.expires_at,
        coalesce(grants.expires_at <= {{ as_of() }}, false) as is_expired,
        {{ as_of() }} as as_of
    from grants
    inner join contracts
        on grants.contract_id = contracts.contract_id
    left join totals
        on grants.grant_id = totals.grant_id
    left join latest_invoice
        on grants.grant_id = latest_invoice.grant_id
    left join ledger
        on
            latest_invoice.grant_id = ledger.grant_id
            and latest_invoice.latest_invoice_sequence = ledger.invoice_sequence

)

select * from final
