{#
  One row per open billing period of a contract (as_of before its period_end): what the customer has
  used and spent so far, and where the period is heading (SPEC 6.3). usage_amount_so_far is the sum of
  daily_spend; amount_due_so_far is the period's draft invoice as it stands (fees, terms and credits
  included). The projection extends each usage charge that accumulates (a count or a sum) at its run
  rate: its amount so far x covered hours / hours elapsed (the first hour counts as one). A charge on a
  level (max, latest: storage, seats) or on distinct values keeps its amount so far, and so does a
  charge without events (billed whatever happens). The sum is rounded to the currency's minor units;
  fees, terms and credits stay as on the draft. Tiers reached later are not foreseen (decision 52
  measures the projection on the demo's history).
#}
with

invoices as (

    select * from {{ ref('invoices') }}

),

billing_periods as (

    select * from {{ ref('int_contract_billing_periods') }}

),

daily_spend as (

    select * from {{ ref('daily_spend') }}

),

charges_to_date as (

    select * from {{ ref('int_usage_charges_to_date') }}

),

currencies as (

    select * from {{ ref('stg_seed__currencies') }}

),

open_periods as (

    select
        invoice_id,
        {#- whole hours, as integers: Postgres' datediff is a double, and money stays exact -#}
        cast({{ dbt.datediff('coverage_starts_at', 'coverage_ends_at', 'hour') }} as {{ dbt.type_bigint() }}) as covered_hours,  -- noqa: LT05
        cast({{ dbt.datediff('coverage_starts_at', as_of(), 'hour') }} as {{ dbt.type_bigint() }}) as elapsed_hours  -- noqa: LT05
    from billing_periods
    where
        period_end > {{ as_of() }}
        and coverage_starts_at <= {{ as_of() }}

),

{# the open periods only: daily spend and the charges so far hold every period of the history #}
spend_so_far as (

    select
        daily_spend.invoice_id,
        sum(daily_spend.amount) as usage_amount_so_far,
        sum(daily_spend.event_count) as event_count_so_far,
        max(daily_spend.usage_date) as last_usage_date
    from daily_spend
    inner join open_periods
        on daily_spend.invoice_id = open_periods.invoice_id
    group by daily_spend.invoice_id

),

{# each usage charge of an open period as it stands: its latest usage day #}
charges_so_far as (

    select
        charges_to_date.invoice_id,
        charges_to_date.aggregation,
        charges_to_date.amount_to_date,
        row_number() over (
            partition by charges_to_date.invoice_id, charges_to_date.price_id, charges_to_date.dimensions
            order by charges_to_date.usage_date desc
        ) as recency_rank
    from charges_to_date
    inner join open_periods
        on charges_to_date.invoice_id = open_periods.invoice_id

),

{# what the accumulating charges would add by the period's end at their run rate #}
run_rate_increases as (

    select
        charges_so_far.invoice_id,
        sum(
            {{ divide_truncated(
                'charges_so_far.amount_to_date * open_periods.covered_hours',
                'case when open_periods.elapsed_hours < 1 then 1 else open_periods.elapsed_hours end'
            ) }} - charges_so_far.amount_to_date
        ) as increase_unrounded
    from charges_so_far
    inner join open_periods
        on charges_so_far.invoice_id = open_periods.invoice_id
    where
        charges_so_far.recency_rank = 1
        and charges_so_far.aggregation in ('count', 'sum')
    group by charges_so_far.invoice_id

),

projected as (

    select
        invoices.invoice_id,
        invoices.contract_id,
        invoices.customer_id,
        invoices.currency,
        invoices.period_start,
        invoices.period_end,
        cast(coalesce(spend_so_far.event_count_so_far, 0) as {{ dbt.type_bigint() }}) as event_count_so_far,
        coalesce(spend_so_far.usage_amount_so_far, 0) as usage_amount_so_far,
        invoices.total_due as amount_due_so_far,
        {{ round_to_minor_units(
            'coalesce(spend_so_far.usage_amount_so_far, 0) + coalesce(run_rate_increases.increase_unrounded, 0)',
            'currencies.minor_units'
        ) }} as projected_usage_amount,
        spend_so_far.last_usage_date
    from invoices
    inner join open_periods
        on invoices.invoice_id = open_periods.invoice_id
    left join spend_so_far
        on invoices.invoice_id = spend_so_far.invoice_id
    left join run_rate_increases
        on invoices.invoice_id = run_rate_increases.invoice_id
    left join currencies
        on invoices.currency = currencies.currency

),

final as (

    select
        invoice_id,
        contract_id,
        customer_id,
        currency,
        period_start,
        period_end,
        event_count_so_far,
        cast(usage_amount_so_far as {{ money_type() }}) as usage_amount_so_far,
        cast(amount_due_so_far as {{ money_type() }}) as amount_due_so_far,
        cast(projected_usage_amount as {{ money_type() }}) as projected_usage_amount,
        cast(amount_due_so_far - usage_amount_so_far + projected_usage_amount as {{ money_type() }})
            as projected_period_end_amount,
        last_usage_date,
        {{ as_of() }} as as_of
    from projected

)

select * from final
