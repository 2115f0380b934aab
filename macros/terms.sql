{#
  Dates and terms. A term with a start (inclusive) and an end (exclusive, empty = open) is in force at
  a moment when the moment falls inside it. Overrides, discounts and prices use it with the first
  covered day of the period (decision 11) or the moment a price row is matched to.
#}
{% macro is_in_force(starts_at, ends_at, moment) -%}
    ({{ starts_at }} is null or {{ moment }} >= {{ starts_at }})
    and ({{ ends_at }} is null or {{ moment }} < {{ ends_at }})
{%- endmacro %}

{#
  Two reference rows (aliases first and second) whose effective_from .. effective_to ranges share an
  instant (empty bounds are open). Used where two rows in force at once would be ambiguous.
#}
{% macro effective_ranges_overlap(first, second) -%}
    ({{ first }}.effective_to is null or {{ second }}.effective_from is null
        or {{ first }}.effective_to > {{ second }}.effective_from)
    and ({{ second }}.effective_to is null or {{ first }}.effective_from is null
        or {{ first }}.effective_from < {{ second }}.effective_to)
{%- endmacro %}

{#
  In force at a period's last instant (SPEC 3 step 6, 6.2): a term that starts before the period's end
  and has not ended before it (an end equal to period_end still covers the instant just before it).
  Credit grants and tax rates are taken at that instant.
#}
{% macro is_in_force_at_period_end(starts_at, ends_at, period_end) -%}
    ({{ starts_at }} is null or {{ starts_at }} < {{ period_end }})
    and ({{ ends_at }} is null or {{ ends_at }} >= {{ period_end }})
{%- endmacro %}

{#
  A per-period amount (a minimum, a commitment) for the whole UTC days the contract covers, rounded to
  the currency's minor units: prorate exactly, then round once (contract §5.1 step 3 and 5, decision 1).
#}
{% macro prorated_and_rounded(amount, covered_days, period_days, minor_units) -%}
    {{ round_to_minor_units(divide_truncated(amount ~ ' * ' ~ covered_days, period_days), minor_units) }}
{%- endmacro %}

{#
  Periods and fee intervals (SPEC 2.2, 6.2) count whole months from an anchor. A contract's
  billing_period and a price's fee interval name the same three lengths in two vocabularies.
#}
{% macro months_per_billing_period(billing_period) -%}
    case {{ billing_period }}
        when 'quarterly' then 3
        when 'annual' then 12
        else 1
    end
{%- endmacro %}

{% macro months_per_fee_interval(fee_interval) -%}
    case {{ fee_interval }}
        when 'quarter' then 3
        when 'year' then 12
        when 'month' then 1
    end
{%- endmacro %}

{#
  Where a contract's periods of a given length start counting: anniversary periods from the contract's
  start day; calendar periods from the 1st of the month, quarter or year the contract starts in.
#}
{% macro period_anchor_at(billing_anchor, months, starts_at) -%}
    case
        when {{ billing_anchor }} = 'anniversary' then {{ dbt.date_trunc('day', starts_at) }}
        when {{ months }} = 3 then {{ dbt.date_trunc('quarter', starts_at) }}
        when {{ months }} = 12 then {{ dbt.date_trunc('year', starts_at) }}
        else {{ dbt.date_trunc('month', starts_at) }}
    end
{%- endmacro %}

{#
  Charge terms (contract §5.1 step 3) applied to amounts of one charge, as CTEs: the one implementation
  of the period invoice's charge adjustments (int_charge_adjustment_lines) and of the running amount of
  progressive billing (int_threshold_running_amounts). `charge_context` names a CTE with one row per
  amount to adjust: chain_key (unique), contract_id, rate_card_id, product_id, is_usage_charge,
  coverage_starts_at (the moment terms are taken at: the period's first covered day, decision 11),
  minor_units and charge_amount. The CTEs it writes:
  - overridden: charge_context with multiplier and amount_after_override (a product-specific override
    wins over one for every usage charge; the adjusted charge is rounded once);
  - discount_steps: the charge's discounts one after another (macros/pricing.sql);
  - after_discounts: chain_key, amount_after_discounts;
  - charge_limits: chain_key, minimum_amount, maximum_amount (at most one of each per product, a
    reference data check enforces it; a contract's own price of the product replaces the rate card's,
    limits included, decision 10).
#}
{% macro charge_terms_ctes(charge_context) -%}
overrides_in_force as (

    select
        {{ charge_context }}.chain_key,
        overrides.multiplier,
        row_number() over (
            partition by {{ charge_context }}.chain_key
            order by case when overrides.product_id is not null then 0 else 1 end, overrides.effective_from desc
        ) as override_rank
    from {{ charge_context }}
    inner join {{ ref('stg_seed__price_overrides') }} as overrides
        on
            {{ charge_context }}.contract_id = overrides.contract_id
            and (
                {{ charge_context }}.product_id = overrides.product_id
                or (overrides.product_id is null and {{ charge_context }}.is_usage_charge)
            )
            and {{ is_in_force('overrides.effective_from', 'overrides.effective_to',
                               charge_context ~ '.coverage_starts_at') }}

),

overridden as (

    select
        {{ charge_context }}.*,
        overrides_in_force.multiplier,
        case
            when overrides_in_force.multiplier is null then {{ charge_context }}.charge_amount
            else {{ round_to_minor_units(charge_context ~ '.charge_amount * overrides_in_force.multiplier',
                                         charge_context ~ '.minor_units') }}
        end as amount_after_override
    from {{ charge_context }}
    left join overrides_in_force
        on
            {{ charge_context }}.chain_key = overrides_in_force.chain_key
            and overrides_in_force.override_rank = 1

),

discount_bases as (

    select
        chain_key,
        amount_after_override as base_amount,
        minor_units
    from overridden

),

chain_discounts as (

    select
        {{ charge_context }}.chain_key,
        discounts.discount_id,
        discounts.discount_type,
        discounts.discount_value,
        row_number() over (partition by {{ charge_context }}.chain_key order by discounts.discount_id)
            as discount_order
    from {{ charge_context }}
    inner join {{ ref('stg_seed__discounts') }} as discounts
        on
            {{ charge_context }}.contract_id = discounts.contract_id
            and {{ charge_context }}.product_id = discounts.product_id
            and {{ is_in_force('discounts.starts_at', 'discounts.ends_at', charge_context ~ '.coverage_starts_at') }}

),

{{ discount_steps_cte('discount_bases', 'chain_discounts') }},

after_discounts as (

    select
        chain_key,
        min(running_amount) as amount_after_discounts
    from discount_steps
    group by chain_key

),

limit_candidates as (

    select
        {{ charge_context }}.chain_key,
        prices.contract_id as price_contract_id,
        prices.minimum_amount,
        prices.maximum_amount,
        {{ contract_price_present('prices', charge_context ~ '.chain_key') }} as product_has_contract_price
    from {{ charge_context }}
    inner join {{ ref('int_prices_resolved') }} as prices
        on
            {{ charge_context }}.product_id = prices.product_id
            and {{ price_applies('prices', charge_context, charge_context ~ '.coverage_starts_at') }}

),

charge_limits as (

    select
        chain_key,
        max(minimum_amount) as minimum_amount,
        max(maximum_amount) as maximum_amount
    from limit_candidates
    where {{ is_contract_price_choice('price_contract_id', 'product_has_contract_price') }}
    group by chain_key

)
{%- endmacro %}
