-- depends_on: {{ ref('int_reference_data_errors') }}
{#
  The fee intervals of recurring prices whose interval differs from their contract's billing period
  (SPEC 6.2 "Fee intervals"): a monthly fee on a quarterly contract, a yearly fee on a monthly one.
  Intervals count from the same anchor as the contract's billing periods would if the contract were
  billed at the fee's interval (calendar: the 1st of a month, quarter or year; anniversary: the
  contract's start day), so that monthly intervals nest in quarterly periods. coverage_starts_at ..
  coverage_ends_at is the part of the interval the contract covers, in whole UTC days, as for periods.
  Intervals that start before the end of the contract's last billing period so far (the one open at
  as_of): an interval billed in advance is billed on the invoice issued at its billing period's start,
  with every interval of that period (int_charges_rated bills an interval in arrears once it has started).
#}
with

contracts as (

    select * from {{ ref('stg_seed__contracts') }}

),

prices as (

    select * from {{ ref('stg_seed__prices') }}

),

last_period_ends as (

    select
        contract_id,
        max(period_end) as last_period_end
    from {{ ref('int_contract_billing_periods') }}
    group by contract_id

),

contract_intervals as (

    select distinct
        contracts.contract_id,
        contracts.starts_at,
        contracts.billing_anchor,
        prices.fee_interval,
        {{ months_per_fee_interval('prices.fee_interval') }} as months_per_interval,
        last_period_ends.last_period_end,
        {{ dbt.date_trunc('day', 'contracts.starts_at') }} as first_covered_day_at,
        {{ dbt.date_trunc('day', 'contracts.ends_at') }} as first_uncovered_day_at
    from contracts
    inner join last_period_ends
        on contracts.contract_id = last_period_ends.contract_id
    inner join prices
        on
            (
                contracts.contract_id = prices.contract_id
                or (prices.contract_id is null and contracts.rate_card_id = prices.rate_card_id)
            )
    where
        prices.charge_type = 'recurring'
        and {{ months_per_fee_interval('prices.fee_interval') }}
        <> {{ months_per_billing_period('contracts.billing_period') }}

),

anchored as (

    select
        *,
        {{ period_anchor_at('billing_anchor', 'months_per_interval', 'starts_at') }} as anchor_at
    from contract_intervals

),

interval_offsets as (

    {# 0 .. 1199: a hundred years of monthly intervals #}
    select cast(generated_number - 1 as integer) as interval_offset
    from ({{ dbt.generate_series(1200) }}) as numbers

),

intervals as (

    select
        anchored.*,
        {{ add_months('anchored.anchor_at', 'anchored.months_per_interval * interval_offsets.interval_offset') }}
            as interval_start,
        {{ add_months('anchored.anchor_at', 'anchored.months_per_interval * (interval_offsets.interval_offset + 1)') }}
            as interval_end
    from anchored
    cross join interval_offsets

),

covered as (

    select
        *,
        case when first_covered_day_at > interval_start then first_covered_day_at else interval_start end
            as coverage_starts_at,
        case
            when first_uncovered_day_at is not null and first_uncovered_day_at < interval_end then first_uncovered_day_at
            else interval_end
        end as coverage_ends_at
    from intervals
    where
        interval_start < last_period_end
        and interval_end > first_covered_day_at
        and (first_uncovered_day_at is null or interval_start < first_uncovered_day_at)

),

final as (

    select
        contract_id,
        fee_interval,
        interval_start,
        interval_end,
        coverage_starts_at,
        coverage_ends_at,
        {# the next two lines compile to long expressions on DuckDB: their length is not checked #}
        {{ dbt.datediff('interval_start', 'interval_end', 'day') }} as interval_days,  -- noqa: LT05
        {{ dbt.datediff('coverage_starts_at', 'coverage_ends_at', 'day') }} as covered_days  -- noqa: LT05
    from covered
    where coverage_ends_at > coverage_starts_at

)

select * from final
