{{ config(materialized='view') }}
{#
  Problems in the prices seed (read resolved, with each row's metric and dimensions), one row per
  problem. A view: int_reference_data_errors reads it once, so a table would only be a copy.
#}
with

prices as (

    select * from {{ ref('int_prices_resolved') }}

),

rate_cards as (

    select * from {{ ref('stg_seed__rate_cards') }}

),

contracts as (

    select * from {{ ref('stg_seed__contracts') }}

),

tiers as (

    select * from {{ ref('stg_seed__price_tiers') }}

),

unknown_charge_type as (

    select
        'prices' as seed_name,
        price_id as row_key,
        'charge_type must be usage or recurring, got ' || coalesce(charge_type, 'null') as problem
    from prices
    where charge_type is null or charge_type not in ('usage', 'recurring')

),

unknown_pricing_model as (

    select
        'prices' as seed_name,
        price_id as row_key,
        'pricing_model must be flat, unit, graduated, volume, package or percentage, got '
        || coalesce(pricing_model, 'null') as problem
    from prices
    where
        pricing_model is null
        or pricing_model not in ('flat', 'unit', 'graduated', 'volume', 'package', 'percentage')

),

recurring_without_flat_amount as (

    select
        'prices' as seed_name,
        price_id as row_key,
        'a recurring charge must use pricing_model flat with a flat_amount' as problem
    from prices
    where charge_type = 'recurring' and metric_id is null and (pricing_model <> 'flat' or flat_amount is null)

),

{# seats (SPEC 6.2): a recurring price that names a metric bills unit_price per seat of a latest metric #}
seats_price_not_unit as (

    select
        'prices' as seed_name,
        price_id as row_key,
        'a seats price (recurring, with a metric_id) must use pricing_model unit with a unit_price' as problem
    from prices
    where charge_type = 'recurring' and metric_id is not null and (pricing_model <> 'unit' or unit_price is null)

),

seats_metric_not_latest as (

    select
        'prices' as seed_name,
        price_id as row_key,
        'a seats price needs a latest metric; metric_id ' || metric_id || ' is aggregated by ' || aggregation
            as problem
    from prices
    where charge_type = 'recurring' and metric_id is not null and aggregation <> 'latest'

),

usage_without_metric as (

    select
        'prices' as seed_name,
        price_id as row_key,
        'a usage charge needs a metric_id' as problem
    from prices
    where charge_type = 'usage' and metric_id is null

),

{# int_prices_resolved reads aggregation from the metric: none means the metric does not exist #}
unknown_metric as (

    select
        'prices' as seed_name,
        price_id as row_key,
        'metric_id ' || metric_id || ' is not in billable_metrics' as problem
    from prices
    where metric_id is not null and aggregation is null

),

{# usage is rated per UTC day (int_usage_daily_price_matches), so a price may only change at midnight #}
effective_dates_not_whole_days as (

    select
        'prices' as seed_name,
        price_id as row_key,
        'effective_from and effective_to must be whole UTC days (00:00:00)' as problem
    from prices
    where
        (effective_from is not null and effective_from <> {{ dbt.date_trunc('day', 'effective_from') }})
        or (effective_to is not null and effective_to <> {{ dbt.date_trunc('day', 'effective_to') }})

),

{# a product billed both as usage and as seats by one owner would bill the metric's events twice #}
usage_and_seats_price_of_one_product as (

    select
        'prices' as seed_name,
        seats_price.price_id as row_key,
        'a seats price and the usage price ' || usage_price.price_id || ' bill product '
        || seats_price.product_id || ' at the same time' as problem
    from prices as seats_price
    inner join prices as usage_price
        on
            seats_price.product_id = usage_price.product_id
            and coalesce(seats_price.rate_card_id, '') = coalesce(usage_price.rate_card_id, '')
            and coalesce(seats_price.contract_id, '') = coalesce(usage_price.contract_id, '')
            and {{ effective_ranges_overlap('seats_price', 'usage_price') }}
    where
        seats_price.charge_type = 'recurring'
        and seats_price.metric_id is not null
        and usage_price.charge_type = 'usage'

),

unknown_fee_interval as (

    select
        'prices' as seed_name,
        price_id as row_key,
        'interval must be month, quarter or year (empty: the billing period), got ' || fee_interval as problem
    from prices
    where fee_interval not in ('month', 'quarter', 'year')

),

{# usage tiers, allowances and seats stay per billing period (SPEC 6.2): only a flat fee has an interval #}
usage_charge_with_fee_interval as (

    select
        'prices' as seed_name,
        price_id as row_key,
        'interval is only for recurring flat fees (usage and seats are rated per billing period)' as problem
    from prices
    where (charge_type = 'usage' or metric_id is not null) and fee_interval is not null

),

unknown_billing_timing as (

    select
        'prices' as seed_name,
        price_id as row_key,
        'billing_timing must be arrears or advance (empty: arrears), got ' || billing_timing as problem
    from prices
    where billing_timing not in ('arrears', 'advance')

),

{# usage is only known once the period is over (SPEC 6.2) #}
advance_usage_charge as (

    select
        'prices' as seed_name,
        price_id as row_key,
        'billing_timing advance is only for recurring fees' as problem
    from prices
    where billing_timing = 'advance' and charge_type = 'usage'

),

{# whether the unused days of a contract that ends mid-period come back is a choice to write down #}
advance_without_prorate as (

    select
        'prices' as seed_name,
        price_id as row_key,
        'an advance fee must set prorate (true: a partial period is prorated and unused days are credited; '
        || 'false: whole periods)' as problem
    from prices
    where billing_timing = 'advance' and is_prorate_unset

),

flat_usage_charge as (

    select
        'prices' as seed_name,
        price_id as row_key,
        'pricing_model flat is only for recurring charges' as problem
    from prices
    where charge_type = 'usage' and pricing_model = 'flat'

),

missing_unit_price as (

    select
        'prices' as seed_name,
        price_id as row_key,
        'pricing_model ' || pricing_model || ' needs a unit_price' as problem
    from prices
    where pricing_model in ('unit', 'package') and unit_price is null

),

package_size_not_positive as (

    select
        'prices' as seed_name,
        price_id as row_key,
        'package_size must be greater than zero' as problem
    from prices
    where pricing_model = 'package' and (package_size is null or package_size <= 0)

),

unknown_package_rounding as (

    select
        'prices' as seed_name,
        price_id as row_key,
        'package_rounding must be up or down, got ' || package_rounding as problem
    from prices
    where package_rounding not in ('up', 'down')

),

percentage_without_rate as (

    select
        'prices' as seed_name,
        price_id as row_key,
        'percentage pricing needs a percentage_rate' as problem
    from prices
    where pricing_model = 'percentage' and percentage_rate is null

),

negative_amounts as (

    select
        'prices' as seed_name,
        price_id as row_key,
        'amounts, rates and free_units must not be negative' as problem
    from prices
    where
        unit_price < 0 or flat_amount < 0 or free_units < 0 or percentage_rate < 0
        or fixed_fee_per_event < 0 or min_per_event < 0 or max_per_event < 0
        or minimum_amount < 0 or maximum_amount < 0

),

not_exactly_one_owner as (

    select
        'prices' as seed_name,
        price_id as row_key,
        'belongs to neither a rate card nor a contract (set exactly one)' as problem
    from prices
    where (rate_card_id is null) = (contract_id is null)

),

unknown_rate_card as (

    select
        'prices' as seed_name,
        price_id as row_key,
        'rate_card_id ' || rate_card_id || ' is not in rate_cards' as problem
    from prices
    where
        rate_card_id is not null
        and not exists (
            select 1 from rate_cards
            where rate_cards.rate_card_id = prices.rate_card_id
        )

),

unknown_contract as (

    select
        'prices' as seed_name,
        price_id as row_key,
        'contract_id ' || contract_id || ' is not in contracts' as problem
    from prices
    where
        contract_id is not null
        and not exists (
            select 1 from contracts
            where contracts.contract_id = prices.contract_id
        )

),

dimensions_not_group_by_keys as (

    select
        'prices' as seed_name,
        price_id as row_key,
        'dimensions must be a JSON object whose keys are group_by keys of the metric' as problem
    from prices
    where
        dimensions <> '{}'
        and (
            metric_id is null
            or {{ json_object_or_null('dimensions') }} is null
            or dimension_key_count <> specificity
        )

),

effective_to_not_after_from as (

    select
        'prices' as seed_name,
        price_id as row_key,
        'effective_to must be after effective_from' as problem
    from prices
    where effective_to <= effective_from

),

tiered_without_tiers as (

    select
        'prices' as seed_name,
        price_id as row_key,
        'pricing_model ' || pricing_model || ' needs tiers in price_tiers' as problem
    from prices
    where
        pricing_model in ('graduated', 'volume')
        and not exists (
            select 1 from tiers
            where tiers.price_id = prices.price_id
        )

),

{# two rows that can price the same usage with the same specificity: the winner would be arbitrary #}
ambiguous_match as (

    select
        'prices' as seed_name,
        first_price.price_id as row_key,
        'matches the same usage as ' || second_price.price_id || ' with the same specificity' as problem
    from prices as first_price
    inner join prices as second_price
        on
            first_price.price_id < second_price.price_id
            and first_price.product_id = second_price.product_id
            and first_price.charge_type = second_price.charge_type
            and coalesce(first_price.metric_id, '') = coalesce(second_price.metric_id, '')
            and coalesce(first_price.rate_card_id, '') = coalesce(second_price.rate_card_id, '')
            and coalesce(first_price.contract_id, '') = coalesce(second_price.contract_id, '')
            and first_price.specificity = second_price.specificity
            and (
                first_price.dimension_value_1 is null or second_price.dimension_value_1 is null
                or first_price.dimension_value_1 = second_price.dimension_value_1
            )
            and (
                first_price.dimension_value_2 is null or second_price.dimension_value_2 is null
                or first_price.dimension_value_2 = second_price.dimension_value_2
            )
            and (
                first_price.dimension_value_3 is null or second_price.dimension_value_3 is null
                or first_price.dimension_value_3 = second_price.dimension_value_3
            )
            and {{ effective_ranges_overlap('first_price', 'second_price') }}

),

{# a charge's minimum and maximum are per product: two rows must not disagree #}
conflicting_product_limits as (

    select
        'prices' as seed_name,
        first_price.price_id as row_key,
        'minimum_amount or maximum_amount differs from ' || second_price.price_id || ' of the same product'
            as problem
    from prices as first_price
    inner join prices as second_price
        on
            first_price.price_id < second_price.price_id
            and first_price.product_id = second_price.product_id
            and coalesce(first_price.rate_card_id, '') = coalesce(second_price.rate_card_id, '')
            and coalesce(first_price.contract_id, '') = coalesce(second_price.contract_id, '')
    where
        (
            first_price.minimum_amount is not null and second_price.minimum_amount is not null
            and first_price.minimum_amount <> second_price.minimum_amount
        )
        or (
            first_price.maximum_amount is not null and second_price.maximum_amount is not null
            and first_price.maximum_amount <> second_price.maximum_amount
        )

),

final as (

    select * from unknown_charge_type
    union all
    select * from unknown_pricing_model
    union all
    select * from recurring_without_flat_amount
    union all
    select * from usage_without_metric
    union all
    select * from unknown_metric
    union all
    select * from effective_dates_not_whole_days
    union all
    select * from seats_price_not_unit
    union all
    select * from seats_metric_not_latest
    union all
    select * from usage_and_seats_price_of_one_product
    union all
    select * from unknown_fee_interval
    union all
    select * from usage_charge_with_fee_interval
    union all
    select * from unknown_billing_timing
    union all
    select * from advance_usage_charge
    union all
    select * from advance_without_prorate
    union all
    select * from flat_usage_charge
    union all
    select * from missing_unit_price
    union all
    select * from package_size_not_positive
    union all
    select * from unknown_package_rounding
    union all
    select * from percentage_without_rate
    union all
    select * from negative_amounts
    union all
    select * from not_exactly_one_owner
    union all
    select * from unknown_rate_card
    union all
    select * from unknown_contract
    union all
    select * from dimensions_not_group_by_keys
    union all
    select * from effective_to_not_after_from
    union all
    select * from tiered_without_tiers
    union all
    select * from ambiguous_match
    union all
    select * from conflicting_product_limits

)

select * from final
