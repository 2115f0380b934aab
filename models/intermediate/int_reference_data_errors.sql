{{ config(post_hook="{{ fail_on_reference_data_errors() }}") }}
-- noqa: disable=AL03
{#
  Everything wrong with the seeded reference data, one row per problem: the seed, the offending row's
  key and what is wrong. Rating models depend on this model, and its post-hook fails the build with
  the rows listed (macro fail_on_reference_data_errors), so bad reference data never bills silently.
#}
with

metrics as (

    select * from {{ ref('stg_seed__billable_metrics') }}

),

rate_cards as (

    select * from {{ ref('stg_seed__rate_cards') }}

),

currencies as (

    select * from {{ ref('stg_seed__currencies') }}

),

contracts as (

    select * from {{ ref('stg_seed__contracts') }}

),

customers as (

    select * from {{ ref('stg_seed__customers') }}

),

prices as (

    select * from {{ ref('int_prices_resolved') }}

),

tiers as (

    select * from {{ ref('stg_seed__price_tiers') }}

),

overrides as (

    select * from {{ ref('stg_seed__price_overrides') }}

),

discounts as (

    select * from {{ ref('stg_seed__discounts') }}

),

grants as (

    select * from {{ ref('stg_seed__credit_grants') }}

),

grant_products as (

    select * from {{ ref('int_credit_grant_products') }}

),

tiers_numbered as (

    select
        tiers.*,
        row_number() over (partition by tiers.price_id order by tiers.tier) as expected_tier,
        count(*) over (partition by tiers.price_id) as tier_count,
        lag(tiers.up_to) over (partition by tiers.price_id order by tiers.tier) as previous_up_to
    from tiers

),

metric_errors as (

    select
        'billable_metrics' as seed_name,
        metric_id as row_key,
        'aggregation must be count, sum, max, unique_count or latest, got ' || coalesce(aggregation, 'null') as problem
    from metrics
    where aggregation is null or aggregation not in ('count', 'sum', 'max', 'unique_count', 'latest')

    union all
    select
        'billable_metrics',
        metric_id,
        'aggregation ' || aggregation || ' needs a value_property'
    from metrics
    where aggregation in ('sum', 'max', 'unique_count', 'latest') and value_property is null

    union all
    select
        'billable_metrics',
        metric_id,
        'group_by has more than 3 keys: ' || group_by
    from metrics
    where group_by_key_4 is not null

    union all
    select
        'billable_metrics',
        metrics.metric_id,
        'filter has more than 3 properties: ' || metrics.event_filter
    from metrics
    where metrics.metric_id in (
        select metric_filters.metric_id
        from {{ ref('int_billable_metric_filters') }} as metric_filters
        where metric_filters.filter_position > 3
    )

),

price_errors as (

    select
        'prices' as seed_name,
        price_id as row_key,
        'charge_type must be usage or recurring, got ' || coalesce(charge_type, 'null') as problem
    from prices
    where charge_type is null or charge_type not in ('usage', 'recurring')

    union all
    select
        'prices',
        price_id,
        'pricing_model must be flat, unit, graduated, volume, package or percentage, got '
        || coalesce(pricing_model, 'null')
    from prices
    where
        pricing_model is null
        or pricing_model not in ('flat', 'unit', 'graduated', 'volume', 'package', 'percentage')

    union all
    select
        'prices',
        price_id,
        'a recurring charge must use pricing_model flat with a flat_amount'
    from prices
    where charge_type = 'recurring' and (pricing_model <> 'flat' or flat_amount is null)

    union all
    select
        'prices',
        price_id,
        'a usage charge needs a metric_id'
    from prices
    where charge_type = 'usage' and metric_id is null

    union all
    select
        'prices',
        price_id,
        'metric_id ' || metric_id || ' is not in billable_metrics'
    from prices
    where metric_id is not null and aggregation is null

    {# usage is rated per UTC day (int_usage_daily_price_matches), so a price may only change at midnight #}
    union all
    select
        'prices',
        price_id,
        'effective_from and effective_to must be whole UTC days (00:00:00)'
    from prices
    where
        (effective_from is not null and effective_from <> {{ dbt.date_trunc('day', 'effective_from') }})
        or (effective_to is not null and effective_to <> {{ dbt.date_trunc('day', 'effective_to') }})

    union all
    select
        'prices',
        price_id,
        'pricing_model flat is only for recurring charges'
    from prices
    where charge_type = 'usage' and pricing_model = 'flat'

    union all
    select
        'prices',
        price_id,
        'pricing_model ' || pricing_model || ' needs a unit_price'
    from prices
    where pricing_model in ('unit', 'package') and unit_price is null

    union all
    select
        'prices',
        price_id,
        'package_size must be greater than zero'
    from prices
    where pricing_model = 'package' and (package_size is null or package_size <= 0)

    union all
    select
        'prices',
        price_id,
        'package_rounding must be up or down, got ' || package_rounding
    from prices
    where package_rounding not in ('up', 'down')

    union all
    select
        'prices',
        price_id,
        'percentage pricing needs a percentage_rate'
    from prices
    where pricing_model = 'percentage' and percentage_rate is null

    union all
    select
        'prices',
        price_id,
        'amounts, rates and free_units must not be negative'
    from prices
    where
        unit_price < 0 or flat_amount < 0 or free_units < 0 or percentage_rate < 0
        or fixed_fee_per_event < 0 or min_per_event < 0 or max_per_event < 0
        or minimum_amount < 0 or maximum_amount < 0

    union all
    select
        'prices',
        price_id,
        'belongs to neither a rate card nor a contract (set exactly one)'
    from prices
    where (rate_card_id is null) = (contract_id is null)

    union all
    select
        'prices',
        price_id,
        'rate_card_id ' || rate_card_id || ' is not in rate_cards'
    from prices
    where
        rate_card_id is not null
        and not exists (
            select 1 from rate_cards
            where rate_cards.rate_card_id = prices.rate_card_id
        )

    union all
    select
        'prices',
        price_id,
        'contract_id ' || contract_id || ' is not in contracts'
    from prices
    where
        contract_id is not null
        and not exists (
            select 1 from contracts
            where contracts.contract_id = prices.contract_id
        )

    union all
    select
        'prices',
        price_id,
        'dimensions must be a JSON object whose keys are group_by keys of the metric'
    from prices
    where
        dimensions <> '{}'
        and (
            metric_id is null
            or {{ json_object_or_null('dimensions') }} is null
            or dimension_key_count <> specificity
        )

    union all
    select
        'prices',
        price_id,
        'effective_to must be after effective_from'
    from prices
    where effective_to <= effective_from

    union all
    select
        'prices',
        price_id,
        'pricing_model ' || pricing_model || ' needs tiers in price_tiers'
    from prices
    where
        pricing_model in ('graduated', 'volume')
        and not exists (
            select 1 from tiers
            where tiers.price_id = prices.price_id
        )

    {# two rows that can price the same usage with the same specificity: the winner would be arbitrary #}
    union all
    select
        'prices',
        first_price.price_id,
        'matches the same usage as ' || second_price.price_id || ' with the same specificity'
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
            and (
                first_price.effective_to is null or second_price.effective_from is null
                or first_price.effective_to > second_price.effective_from
            )
            and (
                second_price.effective_to is null or first_price.effective_from is null
                or first_price.effective_from < second_price.effective_to
            )

),

tier_errors as (

    select
        'price_tiers' as seed_name,
        price_id || ' tier ' || cast(tier as {{ dbt.type_string() }}) as row_key,
        'tiers must be numbered 1, 2, 3, ... without gaps' as problem
    from tiers_numbered
    where tier <> expected_tier

    union all
    select
        'price_tiers',
        price_id || ' tier ' || cast(tier as {{ dbt.type_string() }}),
        'up_to must be strictly greater than the previous tier''s up_to'
    from tiers_numbered
    where tier > 1 and (previous_up_to is null or up_to <= previous_up_to)

    union all
    select
        'price_tiers',
        price_id || ' tier ' || cast(tier as {{ dbt.type_string() }}),
        'up_to must be positive'
    from tiers_numbered
    where up_to <= 0

    union all
    select
        'price_tiers',
        price_id || ' tier ' || cast(tier as {{ dbt.type_string() }}),
        'only the last tier may have an empty up_to'
    from tiers_numbered
    where up_to is null and expected_tier < tier_count

    union all
    select
        'price_tiers',
        price_id || ' tier ' || cast(tier as {{ dbt.type_string() }}),
        'the last tier must have an empty up_to so every quantity has a tier'
    from tiers_numbered
    where up_to is not null and expected_tier = tier_count

    union all
    select
        'price_tiers',
        price_id || ' tier ' || cast(tier as {{ dbt.type_string() }}),
        'unit_price and flat_fee must not be negative'
    from tiers_numbered
    where unit_price < 0 or flat_fee < 0

    union all
    select
        'price_tiers',
        price_id || ' tier ' || cast(tier as {{ dbt.type_string() }}),
        'price_id is not a graduated or volume price in prices'
    from tiers_numbered
    where not exists (
        select 1 from prices
        where prices.price_id = tiers_numbered.price_id and prices.pricing_model in ('graduated', 'volume')
    )

),

contract_errors as (

    select
        'contracts' as seed_name,
        contracts.contract_id as row_key,
        'currency ' || coalesce(contracts.currency, 'null') || ' differs from rate card '
        || contracts.rate_card_id || ' currency ' || rate_cards.currency as problem
    from contracts
    inner join rate_cards
        on contracts.rate_card_id = rate_cards.rate_card_id
    where contracts.currency is null or contracts.currency <> rate_cards.currency

    union all
    select
        'contracts',
        contract_id,
        'rate_card_id ' || coalesce(rate_card_id, 'null') || ' is not in rate_cards'
    from contracts
    where
        not exists (
            select 1 from rate_cards
            where rate_cards.rate_card_id = contracts.rate_card_id
        )

    union all
    select
        'contracts',
        contract_id,
        'customer_id ' || coalesce(customer_id, 'null') || ' is not in customers'
    from contracts
    where
        not exists (
            select 1 from customers
            where customers.customer_id = contracts.customer_id
        )

    union all
    select
        'contracts',
        contract_id,
        'currency ' || coalesce(currency, 'null') || ' is not in currencies'
    from contracts
    where
        not exists (
            select 1 from currencies
            where currencies.currency = contracts.currency
        )

    union all
    select
        'contracts',
        contract_id,
        'billing_period must be monthly, quarterly or annual, got ' || billing_period
    from contracts
    where billing_period not in ('monthly', 'quarterly', 'annual')

    union all
    select
        'contracts',
        contract_id,
        'billing_anchor must be calendar or anniversary, got ' || billing_anchor
    from contracts
    where billing_anchor not in ('calendar', 'anniversary')

    union all
    select
        'contracts',
        contract_id,
        'needs starts_at, and ends_at (if set) after starts_at'
    from contracts
    where starts_at is null or ends_at <= starts_at

    union all
    select
        'contracts',
        contract_id,
        'minimum_commitment must not be negative'
    from contracts
    where minimum_commitment < 0

    {# one customer's contracts must not overlap: every event must belong to exactly one contract #}
    union all
    select
        'contracts',
        first_contract.contract_id,
        'overlaps contract ' || second_contract.contract_id
        || ' of the same customer'
    from contracts as first_contract
    inner join contracts as second_contract
        on
            first_contract.customer_id = second_contract.customer_id
            and first_contract.contract_id < second_contract.contract_id
            and (first_contract.ends_at is null or first_contract.ends_at > second_contract.starts_at)
            and (second_contract.ends_at is null or first_contract.starts_at < second_contract.ends_at)

),

contract_term_errors as (

    select
        'price_overrides' as seed_name,
        contract_id || ' ' || coalesce(product_id, '*') as row_key,
        'contract_id ' || coalesce(contract_id, 'null') || ' is not in contracts' as problem
    from overrides
    where
        not exists (
            select 1 from contracts
            where contracts.contract_id = overrides.contract_id
        )

    union all
    select
        'price_overrides',
        contract_id || ' ' || product_id,
        'product_id ' || product_id || ' has no price'
    from overrides
    where
        product_id is not null
        and not exists (
            select 1 from prices
            where prices.product_id = overrides.product_id
        )

    union all
    select
        'price_overrides',
        contract_id || ' ' || coalesce(product_id, '*'),
        'multiplier must be set and not negative'
    from overrides
    where multiplier is null or multiplier < 0

    union all
    select
        'discounts',
        discount_id,
        'contract_id ' || coalesce(contract_id, 'null') || ' is not in contracts'
    from discounts
    where
        not exists (
            select 1 from contracts
            where contracts.contract_id = discounts.contract_id
        )

    union all
    select
        'discounts',
        discount_id,
        'product_id ' || product_id || ' has no price'
    from discounts
    where
        product_id is not null
        and not exists (
            select 1 from prices
            where prices.product_id = discounts.product_id
        )

    union all
    select
        'discounts',
        discount_id,
        'discount_type must be percent or amount, got ' || coalesce(discount_type, 'null')
    from discounts
    where discount_type is null or discount_type not in ('percent', 'amount')

    union all
    select
        'discounts',
        discount_id,
        'value must be set and not negative (a percent is a fraction: 0.10 = 10 %)'
    from discounts
    where discount_value is null or discount_value < 0 or (discount_type = 'percent' and discount_value > 1)

    union all
    select
        'credit_grants',
        grant_id,
        'contract_id ' || coalesce(contract_id, 'null') || ' is not in contracts'
    from grants
    where
        not exists (
            select 1 from contracts
            where contracts.contract_id = grants.contract_id
        )

    union all
    select
        'credit_grants',
        grant_id,
        'grant_type must be prepaid or promotional, got ' || coalesce(grant_type, 'null')
    from grants
    where grant_type is null or grant_type not in ('prepaid', 'promotional')

    union all
    select
        'credit_grants',
        grant_id,
        'amount must be set and not negative'
    from grants
    where amount is null or amount < 0

    union all
    select
        'credit_grants',
        grant_id,
        'expires_at must be after starts_at'
    from grants
    where expires_at <= starts_at

    union all
    select
        'credit_grants',
        grant_products.grant_id,
        'product_ids names ' || grant_products.product_id
        || ', which has no price'
    from grant_products
    where
        not exists (
            select 1 from prices
            where prices.product_id = grant_products.product_id
        )

    {# a charge's minimum and maximum are per product: two rows must not disagree #}
    union all
    select
        'prices',
        first_price.price_id,
        'minimum_amount or maximum_amount differs from ' || second_price.price_id || ' of the same product'
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

currency_errors as (

    select
        'rate_cards' as seed_name,
        rate_card_id as row_key,
        'currency ' || coalesce(currency, 'null') || ' is not in currencies' as problem
    from rate_cards
    where
        not exists (
            select 1 from currencies
            where currencies.currency = rate_cards.currency
        )

    union all
    select
        'currencies',
        currency,
        'minor_units must be between 0 and 4'
    from currencies
    where minor_units is null or minor_units < 0 or minor_units > 4

),

final as (

    select * from metric_errors
    union all
    select * from price_errors
    union all
    select * from tier_errors
    union all
    select * from contract_errors
    union all
    select * from currency_errors
    union all
    select * from contract_term_errors

)

select * from final
