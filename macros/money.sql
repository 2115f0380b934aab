{#
  Round an exact amount to the currency's minor units, half away from zero (contract §5.1 step 2).
  round() on decimal/numeric rounds half away from zero on both DuckDB and Postgres; the case keeps
  the precision argument a constant, which DuckDB requires for decimals.
#}
{% macro round_to_minor_units(amount_expr, minor_units_expr) -%}
    case {{ minor_units_expr }}
        {%- for places in range(5) %}
        when {{ places }} then cast(round({{ amount_expr }}, {{ places }}) as {{ exact_decimal_type() }})
        {%- endfor %}
    end
{%- endmacro %}

{#
  Rounded money in the marts: four decimal places hold every ISO 4217 currency's minor units exactly
  (JPY 0, USD 2, KWD 3, CLF 4; a reference-data check keeps minor_units within 0..4).
#}
{% macro money_type() -%}
    decimal(38, 4)
{%- endmacro %}

{# Quantities, rates, prices and unrounded amounts: exact, ten decimal places (contract §3 seeds). #}
{% macro exact_decimal_type() -%}
    decimal(38, 10)
{%- endmacro %}

{#
  numerator / denominator, truncated toward zero at 10 decimal places, computed exactly.
  DuckDB turns decimal division into a double, and Postgres rounds its numeric quotient at a scale of
  its choosing; integer division of values scaled by 10^10 gives the same exact digits on both.
  Truncating (not rounding) at 10 places never moves a value across a half-cent boundary, so a later
  round_to_minor_units() gives the same result as rounding the true quotient.
#}
{% macro divide_truncated(numerator, denominator) -%}
    {{ return(adapter.dispatch('divide_truncated', 'warehouse_billing')(numerator, denominator)) }}
{%- endmacro %}

{% macro duckdb__divide_truncated(numerator, denominator) -%}
    (
        cast(
            cast(round(cast({{ numerator }} as decimal(38, 10)) * 10000000000, 0) as hugeint) * 10000000000
            // cast(round(cast({{ denominator }} as decimal(38, 10)) * 10000000000, 0) as hugeint)
            as decimal(38, 0)
        ) * cast(0.0000000001 as decimal(38, 10))
    )
{%- endmacro %}

{% macro postgres__divide_truncated(numerator, denominator) -%}
    (div(cast({{ numerator }} as numeric) * 10000000000, cast({{ denominator }} as numeric)) / 10000000000)
{%- endmacro %}

{#
  Spark, in integers as on DuckDB: n * 10^20 and d * 10^10 as decimal(38, 0) and decimal(20, 0);
  their difference to the next lower multiple is the remainder (%, exact, signed like the dividend), so
  the quotient of the multiple is an exact integer: n / d * 10^10 truncated toward zero. Spark types
  decimal(38, 0) / decimal(20, 0) as decimal(38, 10), so that integer keeps 28 digits. Limits: n below
  10^18 and d below 10^10 (a larger value makes the cast NULL, which the not_null tests on amounts
  catch: dbt-spark runs with ANSI mode off).
#}
{% macro spark__divide_truncated(numerator, denominator) -%}
    {%- set scaled_numerator -%}
        cast(cast(cast({{ numerator }} as decimal(38, 10)) * 10000000000 as decimal(38, 0)) * 10000000000 as decimal(38, 0))
    {%- endset -%}
    {%- set scaled_denominator -%}
        cast(cast({{ denominator }} as decimal(38, 10)) * 10000000000 as decimal(20, 0))
    {%- endset -%}
    (
        cast(
            cast(({{ scaled_numerator }} - {{ scaled_numerator }} % {{ scaled_denominator }}) / {{ scaled_denominator }} as decimal(38, 0))
            * cast(0.0000000001 as decimal(10, 10))
            as decimal(38, 10)
        )
    )
{%- endmacro %}

{# Whole packages for a non-negative quantity: ceil or floor of quantity / package_size, exactly. #}
{% macro package_count(quantity, package_size, rounding) -%}
    (
        floor({{ divide_truncated(quantity, package_size) }})
        + case
            when coalesce({{ rounding }}, 'up') = 'up'
                and floor({{ divide_truncated(quantity, package_size) }}) * {{ package_size }} < {{ quantity }}
                then 1
            else 0
        end
    )
{%- endmacro %}
