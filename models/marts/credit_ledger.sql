{#
  Each record represents one credit grant on one invoice of its contract (a billing period's invoice,
  or its opening invoice, SPEC 6.2), from the period it starts in to the invoice it expires on, in the
  contract's invoice order (invoice_sequence): opening balance, drawn, expired, closing balance. The
  drawn amounts are exactly the credit lines of the invoices (a test reconciles them).
#}
with

draws as (

    select * from {{ ref('int_credit_draws') }}

),

grants as (

    select * from {{ ref('stg_seed__credit_grants') }}

),

{# the first invoice whose terms instant (a period's last instant) falls after the grant expired #}
expiry_invoices as (

    select
        draws.grant_id,
        min(draws.invoice_sequence) as expired_at_invoice_sequence
    from draws
    inner join grants
        on draws.grant_id = grants.grant_id
    where grants.expires_at is not null and grants.expires_at < draws.terms_at
    group by draws.grant_id

),

final as (

    select
        draws.grant_id,
        draws.invoice_id,
        draws.contract_id,
        draws.grant_type,
        draws.period_start,
        draws.period_end,
        {# row_number() is an int on Spark, a bigint elsewhere #}
        cast(draws.invoice_sequence as bigint) as invoice_sequence,
        cast(draws.opening_balance as {{ money_type() }}) as opening_balance,
        cast(draws.drawn_amount as {{ money_type() }}) as drawn_amount,
        cast(
            case when draws.invoice_sequence = expiry_invoices.expired_at_invoice_sequence then draws.closing_balance else 0 end
            as {{ money_type() }}
        ) as expired_amount,
        cast(
            case when draws.invoice_sequence = expiry_invoices.expired_at_invoice_sequence then 0 else draws.closing_balance end
            as {{ money_type() }}
        ) as closing_balance
    from draws
    left join expiry_invoices
        on draws.grant_id = expiry_invoices.grant_id
    where
        expiry_invoices.expired_at_invoice_sequence is null
        or draws.invoice_sequence <= expiry_invoices.expired_at_invoice_sequence

)

select * from final
