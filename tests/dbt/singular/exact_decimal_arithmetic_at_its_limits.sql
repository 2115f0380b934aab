{#
  Exact arithmetic at the edges of its limits, on whichever warehouse runs this test (decision 40).
  Spark's decimal rules differ from DuckDB's and Postgres's, so this is where a setting or a macro
  that loses a digit on one engine shows: the product of two decimal(38, 10) values keeps scale 20
  up to 18 integer digits; divide_truncated truncates toward zero at 10 places, up to a quotient of
  10^18 with a divisor under 10^10; round_to_minor_units rounds half away from zero.
  One row per case whose result differs from the value worked out by hand.
#}
{%- set cases = [
    ('two thirds truncated, not rounded',
     divide_truncated('cast(2 as decimal(38, 10))', 'cast(3 as decimal(38, 10))'), '0.6666666666'),
    ('negative quotient truncated toward zero',
     divide_truncated('cast(-2 as decimal(38, 10))', 'cast(3 as decimal(38, 10))'), '-0.6666666666'),
    ('largest quotient',
     divide_truncated('cast(999999999999999999 as decimal(38, 10))', 'cast(1 as decimal(38, 10))'),
     '999999999999999999'),
    ('largest divisor',
     divide_truncated('cast(12345678.9 as decimal(38, 10))', 'cast(9999999999.9999999999 as decimal(38, 10))'),
     '0.0012345678'),
    ('smallest rate times a quantity',
     'cast(0.0000000001 as decimal(38, 10)) * cast(123456789.123456789 as decimal(38, 10))',
     '0.0123456789123456789'),
    ('product with 18 integer digits and 20 decimals',
     'cast(999999999.9999999999 as decimal(38, 10)) * cast(999999999.9999999999 as decimal(38, 10))',
     '999999999999999999.80000000000000000001'),
    ('half a cent below zero rounds away from zero',
     round_to_minor_units('cast(-2.345 as decimal(38, 10))', '2'), '-2.35'),
    ('half a yen rounds up',
     round_to_minor_units('cast(2.5 as decimal(38, 10))', '0'), '3'),
] -%}

{% for name, computed, expected in cases %}
    select
        '{{ name }}' as case_name,
        cast({{ computed }} as {{ dbt.type_string() }}) as computed,
        '{{ expected }}' as expected
    where coalesce({{ computed }} <> cast('{{ expected }}' as decimal(38, 20)), true)
    {% if not loop.last %}union all{% endif %}
{% endfor %}
