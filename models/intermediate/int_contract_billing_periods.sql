-- depends_on: {{ ref('int_reference_data_errors') }}
{#
  Billing periods of each contract up to the run's clock. Periods follow the contract's billing_period
  (monthly, quarterly, annual) from its anchor: calendar periods start on the 1st (of a quarter or a
  year for longer periods); anniversary periods start on the contract's start day. Month arithmetic
  always counts from the anchor, so a period anchored on the 31st returns to the 31st after February.
  coverage_starts_at .. coverage_ends_at is the part of the period the contract covers, in whole UTC days (contract §4.6).
  advance_invoice_id is the invoice that bills the period's advance fees (SPEC 6.2): the previous period's
  invoice, or for the first period the contract's opening invoice (int_contract_invoices).
#}
with

contracts as (

    select * from {{ ref('stg_seed__contracts') }}

),

period_offsets as (

    {# 0 .. 1199: a hundred years of monthly periods #}
    select cast(generated_number - 1 as integer) as period_offset
    from ({{ dbt.generate_series(1200) }}) as numbers

),

anchored as (

    select
        contract_id,
        customer_id,
        rate_card_id,
        currency,
        starts_at,
        ends_at,
        billing_period,
        billing_anchor,
        payment_terms_days,
        {{ months_per_billing_period('billing_period') }} as months_per_period,
        {{ period_anchor_at('billing_anchor', months_per_billing_period('billing_period'), 'starts_at') }} as anchor_at,
        {# whole UTC days: a contract ending at any time on a day does not cover that day #}
        {{ dbt.date_trunc('day', 'starts_at') }} as first_covered_day_at,
        {{ dbt.date_trunc('day', 'ends_at') }} as first_uncovered_day_at
    from contracts

),

periods as (

    select
        anchored.*,
        {{ add_months('anchored.anchor_at', 'anchored.months_per_period * period_offsets.period_offset') }}
            as period_start,
        {{ add_months('anchored.anchor_at', 'anchored.months_per_period * (period_offsets.period_offset + 1)') }}
            as period_end
    from anchored
    cross join period_offsets

),

in_force as (

    select
        *,
        case when first_covered_day_at > period_start then first_covered_day_at else period_start end as coverage_starts_at,
        case
            when first_uncovered_day_at is not null and first_uncovered_day_at < period_end then first_uncovered_day_at
            else period_end
        end as coverage_ends_at,
        {# the period's close (SPEC 5): its invoice is ready and issued from this instant #}
        {{ dbt.dateadd('hour', var('invoice_grace_hours'), 'period_end') }} as closes_at
    from periods
    where
        period_start <= {{ as_of() }}
        and period_end > first_covered_day_at
        and (first_uncovered_day_at is null or period_start < first_uncovered_day_at)

),

periods_with_ids as (

    select
        {{ dbt.hash("contract_id || '|' || cast(period_start as " ~ dbt.type_string() ~ ")") }} as invoice_id,
        contract_id,
        customer_id,
        rate_card_id,
        currency,
        billing_period,
        months_per_period,
        period_start,
        period_end,
        coverage_starts_at,
        coverage_ends_at,
        {{ dbt.datediff('period_start', 'period_end', 'day') }} as period_days,
        {# the next line compiles to a long expression on DuckDB: its line length is not checked #}
        {{ dbt.datediff('coverage_starts_at', 'coverage_ends_at', 'day') }} as covered_days,  -- noqa: LT05
        closes_at,
        {# issued at the close, due payment_terms_days calendar days later (empty: 0); the parentheses keep
           the expression whole inside the multiplication dbt's dateadd writes on Spark #}
        {{ dbt.dateadd('day', '(coalesce(payment_terms_days, 0))', 'closes_at') }} as due_at,
        case
            when {{ as_of() }} >= closes_at then 'ready'
            else 'draft'
        end as invoice_status
    from in_force
    where coverage_ends_at > coverage_starts_at

),

final as (

    select
        *,
        lag(invoice_id) over (partition by contract_id order by period_start) is null as is_first_period,
        coalesce(
            lag(invoice_id) over (partition by contract_id order by period_start),
            {{ dbt.hash("contract_id || '|' || cast(period_start as " ~ dbt.type_string() ~ ") || '|opening'") }}
        ) as advance_invoice_id
    from periods_with_ids

)

select * from final
