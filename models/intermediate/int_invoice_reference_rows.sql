{#
  The reference data each invoice's amounts (contract §5.1 steps 1-5) are rated under, one row per
  invoice (contract x billing period) x reference row: the contract's terms, the price rows that apply
  to it (its rate card's and its own) in force on any covered day, their tiers and metrics, the
  overrides and discounts in force on the first covered day (decision 20) and the currency's minor
  units. row_text holds every value of the row that can change an amount; int_invoice_reference_fingerprints
  hashes them per invoice.

  Dates are clipped to the period's coverage (clipped_from .. clipped_to), and labels that change no
  amount (a product's name) are left out, so the right way to change a price (end-date the row, add a
  new one from a later day) leaves every earlier period's rows as they were. Overrides and discounts
  count only as in force or not on the first covered day: their dates are left out.

  An invoice also bills the next period's fees in advance (SPEC 6.2, decision 65): the advance price rows
  in force in that period are its rows too (reference_kind advance_price, clipped to that period), so
  that an edit of one after the invoice was published is held for approval like any other.
#}
with

contract_invoices as (

    select * from {{ ref('int_contract_invoices') }}

),

billing_periods as (

    select * from {{ ref('int_contract_billing_periods') }}

),

contracts as (

    select * from {{ ref('stg_seed__contracts') }}

),

prices as (

    select * from {{ ref('stg_seed__prices') }}

),

price_tiers as (

    select * from {{ ref('stg_seed__price_tiers') }}

),

metrics as (

    select * from {{ ref('stg_seed__billable_metrics') }}

),

overrides as (

    select * from {{ ref('stg_seed__price_overrides') }}

),

discounts as (

    select * from {{ ref('stg_seed__discounts') }}

),

currencies as (

    select * from {{ ref('stg_seed__currencies') }}

),

{# the contract's terms, its start and end as the period's coverage #}
contract_rows as (

    select
        contract_invoices.invoice_id,
        'contract' as reference_kind,
        contracts.contract_id as reference_key,
        contract_invoices.coverage_starts_at as clipped_from,
        contract_invoices.coverage_ends_at as clipped_to,
        'contract|' || {{ fingerprint_row_text([
            'contracts.contract_id', 'contracts.customer_id', 'contracts.rate_card_id', 'contracts.currency',
            'contracts.billing_period', 'contracts.billing_anchor', 'contracts.minimum_commitment',
            'contract_invoices.period_start', 'contract_invoices.period_end',
            'contract_invoices.coverage_starts_at', 'contract_invoices.coverage_ends_at',
        ]) }} as row_text
    from contract_invoices
    inner join contracts
        on contract_invoices.contract_id = contracts.contract_id

),

{#
  The windows whose price rows an invoice bills under: its own coverage, and for an invoice that bills
  the next period's fees in advance, that period's coverage (its advance prices only)
#}
price_windows as (

    select
        invoice_id,
        contract_id,
        rate_card_id,
        coverage_starts_at,
        coverage_ends_at,
        false as is_next_period_in_advance
    from contract_invoices

    union all

    select
        contract_invoices.invoice_id,
        next_periods.contract_id,
        next_periods.rate_card_id,
        next_periods.coverage_starts_at,
        next_periods.coverage_ends_at,
        true as is_next_period_in_advance
    from billing_periods as next_periods
    inner join contract_invoices
        on next_periods.advance_invoice_id = contract_invoices.invoice_id

),

{# price rows of the contract or its rate card in force on any day of a window, dates clipped to it #}
window_prices as (

    select
        price_windows.invoice_id,
        price_windows.is_next_period_in_advance,
        prices.*,
        case
            when prices.effective_from is null or prices.effective_from < price_windows.coverage_starts_at
                then price_windows.coverage_starts_at
            else prices.effective_from
        end as clipped_from,
        case
            when prices.effective_to is null or prices.effective_to > price_windows.coverage_ends_at
                then price_windows.coverage_ends_at
            else prices.effective_to
        end as clipped_to
    from price_windows
    inner join prices
        on
            (
                price_windows.contract_id = prices.contract_id
                or (prices.contract_id is null and price_windows.rate_card_id = prices.rate_card_id)
            )
            and (not price_windows.is_next_period_in_advance or prices.billing_timing = 'advance')
            and (prices.effective_from is null or price_windows.coverage_ends_at > prices.effective_from)
            and (prices.effective_to is null or price_windows.coverage_starts_at < prices.effective_to)

),

period_prices as (

    select * from window_prices
    where not is_next_period_in_advance

),

price_rows as (

    select
        invoice_id,
        'price' as reference_kind,
        price_id as reference_key,
        clipped_from,
        clipped_to,
        'price|' || {{ fingerprint_row_text([
            'price_id', 'rate_card_id', 'contract_id', 'product_id', 'charge_type', 'metric_id',
            'pricing_model', 'unit_price', 'flat_amount', 'package_size', 'package_rounding', 'free_units',
            'percentage_rate', 'fixed_fee_per_event', 'min_per_event', 'max_per_event', 'dimensions',
            'minimum_amount', 'maximum_amount', 'is_prorated', 'clipped_from', 'clipped_to',
        ]) }}
        {# added only when set, so that the rows of prices in arrears without a fee interval keep their text #}
        || coalesce('|interval=' || fee_interval, '')
        || case when billing_timing = 'advance' then '|timing=advance' else '' end as row_text
    from period_prices

),

advance_price_rows as (

    select
        invoice_id,
        'advance_price' as reference_kind,
        price_id as reference_key,
        clipped_from,
        clipped_to,
        'advance_price|' || {{ fingerprint_row_text([
            'price_id', 'rate_card_id', 'contract_id', 'product_id', 'charge_type', 'metric_id',
            'pricing_model', 'unit_price', 'flat_amount', 'is_prorated', 'clipped_from', 'clipped_to',
        ]) }}
        || coalesce('|interval=' || fee_interval, '') as row_text
    from window_prices
    where is_next_period_in_advance

),

tier_rows as (

    select
        period_prices.invoice_id,
        'tier' as reference_kind,
        price_tiers.price_id || ' tier ' || cast(price_tiers.tier as {{ dbt.type_string() }}) as reference_key,
        cast(null as timestamp) as clipped_from,
        cast(null as timestamp) as clipped_to,
        'tier|' || {{ fingerprint_row_text([
            'price_tiers.price_id', 'price_tiers.tier', 'price_tiers.up_to', 'price_tiers.unit_price',
            'price_tiers.flat_fee',
        ]) }} as row_text
    from period_prices
    inner join price_tiers
        on period_prices.price_id = price_tiers.price_id

),

metric_rows as (

    select distinct
        period_prices.invoice_id,
        'metric' as reference_kind,
        metrics.metric_id as reference_key,
        cast(null as timestamp) as clipped_from,
        cast(null as timestamp) as clipped_to,
        'metric|' || {{ fingerprint_row_text([
            'metrics.metric_id', 'metrics.event_type', 'metrics.aggregation', 'metrics.value_property',
            'metrics.event_filter', 'metrics.group_by',
        ]) }} as row_text
    from period_prices
    inner join metrics
        on period_prices.metric_id = metrics.metric_id

),

{# overrides and discounts apply as in force on the first covered day: which ones, not their dates #}
override_rows as (

    select
        contract_invoices.invoice_id,
        'override' as reference_kind,
        overrides.price_override_id as reference_key,
        cast(null as timestamp) as clipped_from,
        cast(null as timestamp) as clipped_to,
        'override|' || {{ fingerprint_row_text(['overrides.product_id', 'overrides.multiplier']) }} as row_text
    from contract_invoices
    inner join overrides
        on
            contract_invoices.contract_id = overrides.contract_id
            and {{ is_in_force('overrides.effective_from', 'overrides.effective_to', 'contract_invoices.coverage_starts_at') }}

),

discount_rows as (

    select
        contract_invoices.invoice_id,
        'discount' as reference_kind,
        discounts.discount_id as reference_key,
        cast(null as timestamp) as clipped_from,
        cast(null as timestamp) as clipped_to,
        'discount|' || {{ fingerprint_row_text([
            'discounts.discount_id', 'discounts.product_id', 'discounts.discount_type', 'discounts.discount_value',
        ]) }} as row_text
    from contract_invoices
    inner join discounts
        on
            contract_invoices.contract_id = discounts.contract_id
            and {{ is_in_force('discounts.starts_at', 'discounts.ends_at', 'contract_invoices.coverage_starts_at') }}

),

currency_rows as (

    select
        contract_invoices.invoice_id,
        'currency' as reference_kind,
        currencies.currency as reference_key,
        cast(null as timestamp) as clipped_from,
        cast(null as timestamp) as clipped_to,
        'currency|' || {{ fingerprint_row_text(['currencies.currency', 'currencies.minor_units']) }} as row_text
    from contract_invoices
    inner join currencies
        on contract_invoices.currency = currencies.currency

),

reference_rows as (

    select * from contract_rows
    union all
    select * from price_rows
    union all
    select * from advance_price_rows
    union all
    select * from tier_rows
    union all
    select * from metric_rows
    union all
    select * from override_rows
    union all
    select * from discount_rows
    union all
    select * from currency_rows

),

final as (

    select * from reference_rows

)

select * from final
