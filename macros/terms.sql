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
