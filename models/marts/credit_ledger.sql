{#
  Each record represents one credit grant in one billing period of its contract, from the period it
  starts in to the period it expires in: opening balance, drawn, expired, closing balance. The drawn
  amounts are exactly the credit lines of the invoices (a test reconciles them).
#}
with

draws as (

    select * from {{ ref('int_credit_draws') }}

),

grants as (

    select * from {{ ref('stg_seed__credit_grants') }}

),

{# the first period whose last instant falls after the grant expired #}
expiry_periods as (

    select
        draws.grant_id,
        min(draws.period_start) as expired_in_period_starting_at
    from draws
    inner join grants
        on draws.grant_id = grants.grant_id
    where grants.expires_at is not null and grants.expires_at < draws.period_end
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
        cast(draws.opening_balance as {{ money_type() }}) as opening_balance,
        cast(draws.drawn_amount as {{ money_type() }}) as drawn_amount,
        cast(
            case when draws.period_start = expiry_periods.expired_in_period_starting_at then draws.closing_balance else 0 end
            as {{ money_type() }}
        ) as expired_amount,
        cast(
            case when draws.period_start = expiry_periods.expired_in_period_starting_at then 0 else draws.closing_balance end
            as {{ money_type() }}
        ) as closing_balance
    from draws
    left join expiry_periods
        on draws.grant_id = expiry_periods.grant_id
    where expiry_periods.expired_in_period_starting_at is null or draws.period_start <= expiry_periods.expired_in_period_starting_at

)

select * from final
