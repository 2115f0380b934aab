{#
  Steps 1 and 2 of contract §5.1: the amount of every usage and recurring charge line by its pricing model,
  rounded once per line to the currency's minor units (half away from zero). One row per invoice
  (contract x billing period x kind) x price row x dimension group, and for a recurring fee with a fee
  interval shorter than the billing period, x fee interval (seat rises and unused-days credits: x event,
  x credit). Usage is billed on its period's invoice; a recurring fee on the invoice its billing_timing
  picks (an advance fee of the first period on the contract's opening invoice, invoice_kind opening).
  The formulas live in macros/pricing.sql.
#}
with

quantities as (

    select * from {{ ref('int_charge_quantities') }}

),

billing_periods as (

    select * from {{ ref('int_contract_billing_periods') }}

),

fee_intervals as (

    select * from {{ ref('int_contract_fee_intervals') }}

),

seat_count_changes as (

    select * from {{ ref('int_seat_count_changes') }}

),

prices as (

    select * from {{ ref('int_prices_resolved') }}

),

tiers as (

    select * from {{ ref('int_price_tiers_bounded') }}

),

currencies as (

    select * from {{ ref('stg_seed__currencies') }}

),

priced_events as (

    select * from {{ ref('int_percentage_usage_events') }}
    where is_priced

),

usage_charges as (

    select
        quantities.invoice_id,
        quantities.price_id,
        quantities.dimensions,
        quantities.quantity,
        quantities.event_count,
        quantities.quantity_source,
        prices.product_id,
        prices.product_name,
        prices.metric_id,
        prices.pricing_model,
        prices.unit_price,
        prices.free_units,
        prices.package_size,
        prices.package_rounding
    from quantities
    inner join prices
        on quantities.price_id = prices.price_id

),

graduated_amounts as (

    select
        usage_charges.invoice_id,
        usage_charges.price_id,
        usage_charges.dimensions,
        sum({{ graduated_tier_amount(
            'usage_charges.quantity', 'tiers.tier', 'tiers.lower_bound', 'tiers.up_to',
            'tiers.unit_price', 'tiers.flat_fee'
        ) }}) as amount_unrounded
    from usage_charges
    inner join tiers
        on usage_charges.price_id = tiers.price_id
    where usage_charges.pricing_model = 'graduated'
    group by usage_charges.invoice_id, usage_charges.price_id, usage_charges.dimensions

),

volume_amounts as (

    select
        usage_charges.invoice_id,
        usage_charges.price_id,
        usage_charges.dimensions,
        tiers.unit_price as tier_unit_price,
        {{ volume_amount('usage_charges.quantity', 'tiers.unit_price', 'tiers.flat_fee') }} as amount_unrounded
    from usage_charges
    inner join tiers
        on
            usage_charges.price_id = tiers.price_id
            and {{ volume_tier_holds_quantity(
                'usage_charges.quantity', 'tiers.tier', 'tiers.lower_bound', 'tiers.up_to'
            ) }}
    where usage_charges.pricing_model = 'volume'

),

percentage_events as (

    select
        priced_events.invoice_id,
        priced_events.price_id,
        priced_events.dimensions,
        priced_events.metric_value,
        prices.percentage_rate,
        prices.fixed_fee_per_event,
        prices.min_per_event,
        prices.max_per_event,
        row_number() over (
            partition by priced_events.invoice_id, priced_events.price_id, priced_events.dimensions
            order by priced_events.occurred_at, priced_events.event_id
        ) <= coalesce(prices.free_units, 0) as is_free_event
    from priced_events
    inner join prices
        on priced_events.price_id = prices.price_id
    where prices.pricing_model = 'percentage'

),

percentage_amounts as (

    select
        invoice_id,
        price_id,
        dimensions,
        sum({{ percentage_event_amount(
            'metric_value', 'percentage_rate', 'fixed_fee_per_event', 'min_per_event', 'max_per_event',
            'is_free_event'
        ) }}) as amount_unrounded
    from percentage_events
    group by invoice_id, price_id, dimensions

),

usage_rated as (

    select
        usage_charges.invoice_id,
        'period' as invoice_kind,
        usage_charges.invoice_id as period_invoice_id,
        'usage' as line_type,
        usage_charges.price_id,
        usage_charges.product_id,
        usage_charges.product_name,
        usage_charges.metric_id,
        usage_charges.pricing_model,
        usage_charges.dimensions,
        usage_charges.quantity,
        usage_charges.event_count,
        case usage_charges.pricing_model
            when 'unit' then usage_charges.unit_price
            when 'package' then usage_charges.unit_price
            when 'volume' then volume_amounts.tier_unit_price
        end as unit_price,
        case usage_charges.pricing_model
            when
                'unit'
                then {{ unit_amount('usage_charges.quantity', 'usage_charges.free_units', 'usage_charges.unit_price') }}
            when 'package' then {{ package_amount(
                'usage_charges.quantity', 'usage_charges.free_units', 'usage_charges.package_size',
                'usage_charges.package_rounding', 'usage_charges.unit_price'
            ) }}
            when 'graduated' then graduated_amounts.amount_unrounded
            when 'volume' then volume_amounts.amount_unrounded
            when 'percentage' then coalesce(percentage_amounts.amount_unrounded, 0)
        end as amount_unrounded,
        cast(null as timestamp) as service_period_start,
        cast(null as timestamp) as service_period_end,
        cast(null as {{ dbt.type_string() }}) as line_key,
        false as is_unused_days_credit
    from usage_charges
    left join graduated_amounts
        on
            usage_charges.invoice_id = graduated_amounts.invoice_id
            and usage_charges.price_id = graduated_amounts.price_id
            and usage_charges.dimensions = graduated_amounts.dimensions
    left join volume_amounts
        on
            usage_charges.invoice_id = volume_amounts.invoice_id
            and usage_charges.price_id = volume_amounts.price_id
            and usage_charges.dimensions = volume_amounts.dimensions
    left join percentage_amounts
        on
            usage_charges.invoice_id = percentage_amounts.invoice_id
            and usage_charges.price_id = percentage_amounts.price_id
            and usage_charges.dimensions = percentage_amounts.dimensions

),

{#
  A recurring fee is billed once per interval (SPEC 6.2). With no interval of its own (or its contract's
  billing period as interval) the interval is the billing period; otherwise a fee interval belongs to a
  billing period (its home period, period_invoice_id): in arrears the period in which the part of it
  the contract covers ends (three monthly lines on a quarterly invoice, one yearly line on the invoice
  of the year's last month), in advance the period in which it starts. An arrears fee is billed on its
  home period's invoice; an advance fee on the invoice issued at the home period's start (its
  advance_invoice_id: the previous period's invoice, or the opening invoice for the first period) and
  for the interval's whole remaining days, whenever the contract ends: the unused days come back as a
  credit on the contract's last invoice (unused_days_credits below). The price row is the one in force
  at the interval's first covered day, and a contract's own price for a product replaces its rate
  card's in the whole period. An arrears interval is billed once it has started.
#}
recurring_fee_slots_by_timing as (

    select
        billing_periods.invoice_id as period_invoice_id,
        billing_periods.advance_invoice_id,
        billing_periods.is_first_period,
        billing_periods.contract_id as billed_contract_id,
        billing_periods.period_start,
        billing_periods.coverage_starts_at as service_period_start,
        billing_periods.coverage_ends_at as covered_until,
        billing_periods.period_end as interval_end,
        billing_periods.period_days as interval_days,
        cast(null as timestamp) as interval_start,
        prices.*
    from billing_periods
    inner join prices
        on
            prices.charge_type = 'recurring'
            and {{ price_applies('prices', 'billing_periods', 'billing_periods.coverage_starts_at') }}
            and (
                prices.fee_interval is null
                or {{ months_per_fee_interval('prices.fee_interval') }} = billing_periods.months_per_period
            )

    union all

    select
        billing_periods.invoice_id as period_invoice_id,
        billing_periods.advance_invoice_id,
        billing_periods.is_first_period,
        billing_periods.contract_id as billed_contract_id,
        billing_periods.period_start,
        fee_intervals.coverage_starts_at as service_period_start,
        fee_intervals.coverage_ends_at as covered_until,
        fee_intervals.interval_end,
        fee_intervals.interval_days,
        fee_intervals.interval_start,
        prices.*
    from billing_periods
    inner join fee_intervals
        on billing_periods.contract_id = fee_intervals.contract_id
    inner join prices
        on
            prices.charge_type = 'recurring'
            and prices.metric_id is null
            and fee_intervals.fee_interval = prices.fee_interval
            and billing_periods.months_per_period <> {{ months_per_fee_interval('prices.fee_interval') }}
            and {{ price_applies('prices', 'billing_periods', 'fee_intervals.coverage_starts_at') }}
            and case
                when prices.billing_timing = 'advance'
                    then
                        billing_periods.period_start <= fee_intervals.coverage_starts_at
                        and billing_periods.period_end > fee_intervals.coverage_starts_at
                else
                    fee_intervals.interval_start <= {{ as_of() }}
                    and billing_periods.period_start < fee_intervals.coverage_ends_at
                    and billing_periods.period_end >= fee_intervals.coverage_ends_at
            end

),

{#
  Where each slot is billed: an advance fee on its home period's advance invoice (the opening invoice
  for the first period), to the interval's end; an arrears fee on its home period's invoice, for the
  days the contract covers.
#}
recurring_fee_slots as (

    select
        *,
        case when billing_timing = 'advance' then advance_invoice_id else period_invoice_id end as invoice_id,
        case when billing_timing = 'advance' and is_first_period then 'opening' else 'period' end as invoice_kind,
        case when billing_timing = 'advance' then interval_end else covered_until end as service_period_end
    from recurring_fee_slots_by_timing

),

recurring_fee_slots_with_days as (

    select
        *,
        {# the next line compiles to a long expression on DuckDB: its length is not checked #}
        {{ dbt.datediff('service_period_start', 'service_period_end', 'day') }} as covered_days  -- noqa: LT05
    from recurring_fee_slots

),

recurring_prices_in_force as (

    select
        *,
        {{ contract_price_present('recurring_fee_slots_with_days', 'period_invoice_id, product_id') }}
            as product_has_contract_price
    from recurring_fee_slots_with_days

),

recurring_chosen as (

    select * from recurring_prices_in_force
    where {{ is_contract_price_choice('contract_id', 'product_has_contract_price') }}

),

flat_fees_rated as (

    select
        invoice_id,
        invoice_kind,
        period_invoice_id,
        'recurring' as line_type,
        price_id,
        product_id,
        product_name,
        metric_id,
        pricing_model,
        '{}' as dimensions,
        case
            when is_prorated and covered_days < interval_days
                then {{ divide_truncated('covered_days', 'interval_days') }}
            else cast(1 as {{ exact_decimal_type() }})
        end as quantity,
        0 as event_count,
        flat_amount as unit_price,
        case
            when is_prorated and covered_days < interval_days
                then {{ divide_truncated('flat_amount * covered_days', 'interval_days') }}
            else flat_amount
        end as amount_unrounded,
        service_period_start,
        service_period_end,
        cast(interval_start as {{ dbt.type_string() }}) as line_key,
        false as is_unused_days_credit
    from recurring_chosen
    where metric_id is null

),

{#
  Seats (SPEC 6.2, decision 64): a recurring price on a latest metric bills unit_price per seat in
  force at the start of the period's covered part (the last count set at or before it; a count set
  before a contract's first day is its base, not a rise), prorated like any recurring fee,
  on the invoice its timing picks; and each rise during the period against the count before it,
  on the period's own invoice, prorated by the whole days left in the period from the day of the
  change (to the covered end in arrears, to the period's end in advance, where the unused-days credit
  takes back the rest), whatever prorate says. A fall is not credited.
#}
seat_slots as (

    select * from recurring_chosen
    where metric_id is not null

),

seats_at_service_start as (

    select
        seat_slots.period_invoice_id,
        seat_slots.price_id,
        seat_count_changes.seats,
        row_number() over (
            partition by seat_slots.period_invoice_id, seat_slots.price_id
            order by seat_count_changes.occurred_at desc, seat_count_changes.event_id desc
        ) as recency
    from seat_slots
    inner join seat_count_changes
        on
            seat_slots.billed_contract_id = seat_count_changes.contract_id
            and seat_slots.metric_id = seat_count_changes.metric_id
            and seat_slots.service_period_start >= seat_count_changes.occurred_at

),

seat_slots_with_count as (

    select
        seat_slots.*,
        coalesce(seats_at_service_start.seats, 0) as seats_at_start
    from seat_slots
    left join seats_at_service_start
        on
            seat_slots.period_invoice_id = seats_at_service_start.period_invoice_id
            and seat_slots.price_id = seats_at_service_start.price_id
            and seats_at_service_start.recency = 1

),

seats_base_rated as (

    select
        invoice_id,
        invoice_kind,
        period_invoice_id,
        'recurring' as line_type,
        price_id,
        product_id,
        product_name,
        metric_id,
        pricing_model,
        '{}' as dimensions,
        case
            when is_prorated and covered_days < interval_days
                then {{ divide_truncated('seats_at_start * covered_days', 'interval_days') }}
            else seats_at_start
        end as quantity,
        0 as event_count,
        unit_price,
        case
            when is_prorated and covered_days < interval_days
                then {{ divide_truncated('unit_price * seats_at_start * covered_days', 'interval_days') }}
            else unit_price * seats_at_start
        end as amount_unrounded,
        service_period_start,
        service_period_end,
        cast(null as {{ dbt.type_string() }}) as line_key,
        false as is_unused_days_credit
    from seat_slots_with_count

),

seat_rises as (

    select
        seat_slots.*,
        seat_count_changes.event_id as rise_event_id,
        seat_count_changes.seats - seat_count_changes.previous_seats as added_seats,
        {{ dbt.date_trunc('day', 'seat_count_changes.occurred_at') }} as rise_day
    from seat_slots
    inner join seat_count_changes
        on
            seat_slots.billed_contract_id = seat_count_changes.contract_id
            and seat_slots.metric_id = seat_count_changes.metric_id
            and seat_slots.service_period_start < seat_count_changes.occurred_at
            and seat_slots.covered_until > seat_count_changes.occurred_at
    where seat_count_changes.seats > seat_count_changes.previous_seats

),

seat_rises_with_days as (

    select
        *,
        {# compiles to a long expression on DuckDB: its length is not checked #}
        {{ dbt.datediff('rise_day', 'service_period_end', 'day') }} as remaining_days  -- noqa: LT05
    from seat_rises

),

seat_rises_rated as (

    select
        period_invoice_id as invoice_id,
        'period' as invoice_kind,
        period_invoice_id,
        'recurring' as line_type,
        price_id,
        product_id,
        product_name,
        metric_id,
        pricing_model,
        '{}' as dimensions,
        {{ divide_truncated('added_seats * remaining_days', 'interval_days') }} as quantity,
        0 as event_count,
        unit_price,
        {{ divide_truncated('unit_price * added_seats * remaining_days', 'interval_days') }} as amount_unrounded,
        rise_day as service_period_start,
        service_period_end,
        'seat_rise|' || rise_event_id as line_key,
        false as is_unused_days_credit
    from seat_rises_with_days

),

{#
  The unused-days credit (SPEC 6.2): an advance fee was billed to its interval's end; when the contract
  ends inside the interval and the price prorates, the contract's last invoice (the period invoice of
  the period in which the contract's coverage ends) gives back the whole days from the coverage's end
  to the interval's end, as a negative recurring line: for seats, every seat billed (the count at the
  start and each rise).
#}
advance_units_billed as (

    select
        price_id,
        period_invoice_id,
        interval_start,
        1 as units
    from recurring_chosen
    where metric_id is null and billing_timing = 'advance'

    union all

    select
        price_id,
        period_invoice_id,
        interval_start,
        seats_at_start as units
    from seat_slots_with_count
    where billing_timing = 'advance'

    union all

    select
        price_id,
        period_invoice_id,
        interval_start,
        added_seats as units
    from seat_rises
    where billing_timing = 'advance'

),

advance_units_per_slot as (

    select
        price_id,
        period_invoice_id,
        interval_start,
        sum(units) as units
    from advance_units_billed
    group by price_id, period_invoice_id, interval_start

),

unused_days_slots as (

    select
        recurring_chosen.*,
        advance_units_per_slot.units,
        {# compiles to a long expression on DuckDB: its length is not checked #}
        {{ dbt.datediff('recurring_chosen.covered_until', 'recurring_chosen.service_period_end', 'day') }} as unused_days  -- noqa: LT05
    from recurring_chosen
    inner join advance_units_per_slot
        on
            recurring_chosen.price_id = advance_units_per_slot.price_id
            and recurring_chosen.period_invoice_id = advance_units_per_slot.period_invoice_id
            and coalesce(cast(recurring_chosen.interval_start as {{ dbt.type_string() }}), '')
            = coalesce(cast(advance_units_per_slot.interval_start as {{ dbt.type_string() }}), '')
    where
        recurring_chosen.billing_timing = 'advance'
        and recurring_chosen.is_prorated
        and recurring_chosen.covered_until < recurring_chosen.service_period_end

),

unused_days_credits as (

    select
        last_periods.invoice_id,
        'period' as invoice_kind,
        last_periods.invoice_id as period_invoice_id,
        'recurring' as line_type,
        unused_days_slots.price_id,
        unused_days_slots.product_id,
        unused_days_slots.product_name,
        unused_days_slots.metric_id,
        unused_days_slots.pricing_model,
        '{}' as dimensions,
        -{{ divide_truncated('unused_days_slots.units * unused_days_slots.unused_days',
                             'unused_days_slots.interval_days') }} as quantity,
        0 as event_count,
        coalesce(unused_days_slots.unit_price, unused_days_slots.flat_amount) as unit_price,
        -{{ divide_truncated(
            'coalesce(unused_days_slots.unit_price, unused_days_slots.flat_amount) * unused_days_slots.units '
            ~ '* unused_days_slots.unused_days',
            'unused_days_slots.interval_days'
        ) }} as amount_unrounded,
        unused_days_slots.covered_until as service_period_start,
        unused_days_slots.service_period_end,
        'unused_days' || coalesce('|' || cast(unused_days_slots.interval_start as {{ dbt.type_string() }}), '')
            as line_key,
        true as is_unused_days_credit
    from unused_days_slots
    inner join billing_periods as last_periods
        on
            unused_days_slots.billed_contract_id = last_periods.contract_id
            and unused_days_slots.covered_until > last_periods.period_start
            and unused_days_slots.covered_until <= last_periods.period_end

),

all_charges as (

    select * from usage_rated
    union all
    select * from flat_fees_rated
    union all
    select * from seats_base_rated
    union all
    select * from seat_rises_rated
    union all
    select * from unused_days_credits

),

final as (

    select
        {# a fee interval's start, a seat rise's event or an unused-days credit adds a key, so the ids of
           other lines stay as they were #}
        {{ dbt.hash(
            "all_charges.invoice_id || '|' || all_charges.line_type || '|' "
            ~ "|| all_charges.price_id || '|' || all_charges.dimensions "
            ~ "|| coalesce('|' || all_charges.line_key, '')"
        ) }} as invoice_line_id,
        all_charges.invoice_id,
        all_charges.invoice_kind,
        billing_periods.contract_id,
        billing_periods.customer_id,
        billing_periods.currency,
        all_charges.line_type,
        all_charges.is_unused_days_credit,
        all_charges.price_id,
        all_charges.product_id,
        all_charges.product_name,
        all_charges.metric_id,
        all_charges.pricing_model,
        all_charges.dimensions,
        cast(all_charges.quantity as {{ exact_decimal_type() }}) as quantity,
        all_charges.event_count,
        cast(all_charges.unit_price as {{ exact_decimal_type() }}) as unit_price,
        cast(all_charges.amount_unrounded as decimal(38, 20)) as amount_unrounded,
        cast({{ round_to_minor_units('all_charges.amount_unrounded', 'currencies.minor_units') }} as {{ exact_decimal_type() }})
            as amount,
        coalesce(all_charges.service_period_start, billing_periods.coverage_starts_at) as service_period_start,
        coalesce(all_charges.service_period_end, billing_periods.coverage_ends_at) as service_period_end
    from all_charges
    inner join billing_periods
        on all_charges.period_invoice_id = billing_periods.invoice_id
    left join currencies
        on billing_periods.currency = currencies.currency

)

select * from final
