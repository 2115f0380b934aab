{#
  Steps 1 and 2 of contract §5.1: the amount of every usage and recurring charge line by its pricing model,
  rounded once per line to the currency's minor units (half away from zero). One row per invoice
  (contract x billing period) x price row x dimension group. The formulas live in macros/pricing.sql.
#}
with

quantities as (

    select * from {{ ref('int_charge_quantities') }}

),

billing_periods as (

    select * from {{ ref('int_contract_billing_periods') }}

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
        end as amount_unrounded
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

recurring_prices_in_force as (

    select
        billing_periods.invoice_id,
        billing_periods.period_days,
        billing_periods.covered_days,
        prices.*,
        {{ contract_price_present('prices', 'billing_periods.invoice_id, prices.product_id') }}
            as product_has_contract_price
    from billing_periods
    inner join prices
        on
            prices.charge_type = 'recurring'
            and {{ price_applies('prices', 'billing_periods', 'billing_periods.coverage_starts_at') }}

),

recurring_rated as (

    select
        invoice_id,
        'recurring' as line_type,
        price_id,
        product_id,
        product_name,
        metric_id,
        pricing_model,
        '{}' as dimensions,
        case
            when is_prorated and covered_days < period_days
                then {{ divide_truncated('covered_days', 'period_days') }}
            else cast(1 as {{ exact_decimal_type() }})
        end as quantity,
        0 as event_count,
        flat_amount as unit_price,
        case
            when is_prorated and covered_days < period_days
                then {{ divide_truncated('flat_amount * covered_days', 'period_days') }}
            else flat_amount
        end as amount_unrounded
    from recurring_prices_in_force
    where {{ is_contract_price_choice('contract_id', 'product_has_contract_price') }}

),

all_charges as (

    select * from usage_rated
    union all
    select * from recurring_rated

),

final as (

    select
        {{ dbt.hash(
            "all_charges.invoice_id || '|' || all_charges.line_type || '|' "
            ~ "|| all_charges.price_id || '|' || all_charges.dimensions"
        ) }} as invoice_line_id,
        all_charges.invoice_id,
        billing_periods.contract_id,
        billing_periods.customer_id,
        billing_periods.currency,
        all_charges.line_type,
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
        billing_periods.coverage_starts_at as service_period_start,
        billing_periods.coverage_ends_at as service_period_end
    from all_charges
    inner join billing_periods
        on all_charges.invoice_id = billing_periods.invoice_id
    left join currencies
        on billing_periods.currency = currencies.currency

)

select * from final
