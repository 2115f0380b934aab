{#
  Pricing formulas of contract §4, each in one place. Every argument is a column or expression of exact
  decimals; results are unrounded amounts (rounding happens once per invoice line).
#}

{# unit: max(q - free_units, 0) x unit_price #}
{% macro unit_amount(quantity, free_units, unit_price) -%}
    (greatest({{ quantity }} - coalesce({{ free_units }}, 0), 0) * {{ unit_price }})
{%- endmacro %}

{# package: ceil (or floor) of billable quantity / package_size, times the package price #}
{% macro package_amount(quantity, free_units, package_size, package_rounding, unit_price) -%}
    (
        {{ package_count(
            "greatest(" ~ quantity ~ " - coalesce(" ~ free_units ~ ", 0), 0)",
            package_size,
            package_rounding
        ) }}
        * {{ unit_price }}
    )
{%- endmacro %}

{#
  graduated, one tier's share: tier i covers (lower_bound, up_to]; tier 1 is always entered, so
  q = 0 still bills tier 1's flat fee. Sum this over the tiers of the price.
#}
{% macro graduated_tier_amount(quantity, tier, lower_bound, up_to, tier_unit_price, flat_fee) -%}
    case
        when {{ tier }} = 1 or {{ quantity }} > {{ lower_bound }}
            then coalesce({{ flat_fee }}, 0)
                + coalesce({{ tier_unit_price }}, 0)
                * (least({{ quantity }}, coalesce({{ up_to }}, {{ quantity }})) - {{ lower_bound }})
        else 0
    end
{%- endmacro %}

{#
  volume: true for the single tier that holds q (tier 1 when q = 0); the whole quantity is then
  priced at that tier: flat_fee + q x unit_price.
#}
{% macro volume_tier_holds_quantity(quantity, tier, lower_bound, up_to) -%}
    (
        ({{ tier }} = 1 or {{ quantity }} > {{ lower_bound }})
        and ({{ up_to }} is null or {{ quantity }} <= {{ up_to }})
    )
{%- endmacro %}

{% macro volume_amount(quantity, tier_unit_price, flat_fee) -%}
    (coalesce({{ flat_fee }}, 0) + {{ quantity }} * coalesce({{ tier_unit_price }}, 0))
{%- endmacro %}

{#
  percentage, one event: clamp(value x rate + fixed fee, min, max); the first free_units events of the
  period bill nothing at all (is_free_event).
#}
{% macro percentage_event_amount(event_value, percentage_rate, fixed_fee_per_event, min_per_event, max_per_event, is_free_event) -%}
    {%- set raw_amount -%}
        ({{ event_value }} * coalesce({{ percentage_rate }}, 0) + coalesce({{ fixed_fee_per_event }}, 0))
    {%- endset -%}
    {%- set at_least_minimum -%}
        (case
            when {{ min_per_event }} is not null and {{ raw_amount }} < {{ min_per_event }} then {{ min_per_event }}
            else {{ raw_amount }}
        end)
    {%- endset -%}
    case
        when {{ is_free_event }} then 0
        when {{ max_per_event }} is not null and {{ at_least_minimum }} > {{ max_per_event }} then {{ max_per_event }}
        else {{ at_least_minimum }}
    end
{%- endmacro %}

{#
  One discount on a running amount, as a positive number: a percent of it (rounded to the currency's
  minor units) or a fixed amount, never more than what is left (a discount never goes below zero).
#}
{% macro discount_amount(running_amount, discount_type, discount_value, minor_units) -%}
    least(
        case {{ discount_type }}
            when 'percent' then {{ round_to_minor_units(
                "greatest(" ~ running_amount ~ ", 0) * " ~ discount_value, minor_units
            ) }}
            else {{ discount_value }}
        end,
        greatest({{ running_amount }}, 0)
    )
{%- endmacro %}

{#
  Discounts apply one after another (contract §3, by discount_id), each on what the previous left, so
  they form a chain: a recursive CTE named discount_steps over
    bases:     chain_key, base_amount, minor_units
    discounts: chain_key, discount_order (1, 2, ...), discount_id, discount_type, discount_value
  gives one row per applied discount (discount_order >= 1) plus the starting row (discount_order 0),
  with running_amount after each step. The calling model must start with `with recursive`.
#}
{% macro discount_steps_cte(bases, discounts) -%}
discount_steps as (

    select
        {{ bases }}.chain_key,
        cast(0 as bigint) as discount_order,
        cast(null as {{ dbt.type_string() }}) as discount_id,
        cast(0 as {{ exact_decimal_type() }}) as discount_amount,
        cast({{ bases }}.base_amount as {{ exact_decimal_type() }}) as running_amount,
        {{ bases }}.minor_units
    from {{ bases }}

    union all

    select
        discount_steps.chain_key,
        cast({{ discounts }}.discount_order as bigint) as discount_order,
        {{ discounts }}.discount_id,
        cast({{ discount_amount('discount_steps.running_amount', discounts ~ '.discount_type',
                                discounts ~ '.discount_value', 'discount_steps.minor_units') }}
            as {{ exact_decimal_type() }}) as discount_amount,
        cast(discount_steps.running_amount
            - {{ discount_amount('discount_steps.running_amount', discounts ~ '.discount_type',
                                 discounts ~ '.discount_value', 'discount_steps.minor_units') }}
            as {{ exact_decimal_type() }}) as running_amount,
        discount_steps.minor_units
    from discount_steps
    inner join {{ discounts }}
        on
            discount_steps.chain_key = {{ discounts }}.chain_key
            and {{ discounts }}.discount_order = discount_steps.discount_order + 1

)
{%- endmacro %}

{#
  A price row applies to a contract at a moment when it belongs to the contract's rate card or to the
  contract itself, and is in force then (effective_from inclusive, effective_to exclusive). Which of
  the two wins for a product (the contract's own price, decision log 10) is decided by the caller.
#}
{% macro price_applies(prices, contract, moment) -%}
    (
        {{ contract }}.contract_id = {{ prices }}.contract_id
        or ({{ prices }}.contract_id is null and {{ contract }}.rate_card_id = {{ prices }}.rate_card_id)
    )
    and {{ is_in_force(prices ~ '.effective_from', prices ~ '.effective_to', moment) }}
{%- endmacro %}

{#
  The other half of decision 10: among the rows price_applies lets through for one product, the
  contract's own rows win over the rate card's. contract_price_present is 1 when any candidate in the
  partition (one usage group or period, and one product) is the contract's own; keep a row when
  is_contract_price_choice holds for it.
#}
{% macro contract_price_present(prices, partition_by) -%}
    max(case when {{ prices }}.contract_id is not null then 1 else 0 end) over (partition by {{ partition_by }})
{%- endmacro %}

{% macro is_contract_price_choice(price_contract_id, contract_price_present) -%}
    ({{ price_contract_id }} is not null) = ({{ contract_price_present }} = 1)
{%- endmacro %}
