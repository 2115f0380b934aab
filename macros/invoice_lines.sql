{#
  One home for what a line type means (seed invoice_line_types): its scope, its place on the invoice,
  the sign of its amount and the invoice total it adds to. The models, the dbt tests and the Great
  Expectations suites all read that seed. The macros read the seed itself rather than a staging view:
  it is the project's own configuration, not business reference data, and dbt unit tests then use its
  real rows without repeating them as fixtures.
#}

{# A line belongs to a charge when it names a product; otherwise it belongs to the whole invoice. #}
{% macro line_scope(product_id) -%}
    case when {{ product_id }} is null then 'invoice' else 'charge' end
{%- endmacro %}

{#
  The invoice totals of contract §6 from a set of lines with invoice_id, line_type, product_id and amount:
  one row per invoice. discount_total and credits_applied are positive numbers that the invoice
  subtracts; total_due is the plain sum of every line, so it always equals the lines whatever their type.
#}
{% macro invoice_totals_from_lines(lines) -%}
    select
        lines.invoice_id,
        sum(case when line_types.rolls_into = 'subtotal' then lines.amount else 0 end) as subtotal,
        sum(case when line_types.rolls_into = 'discount_total' then -lines.amount else 0 end) as discount_total,
        sum(case when line_types.rolls_into = 'commitment_true_up' then lines.amount else 0 end)
            as commitment_true_up,
        sum(case when line_types.rolls_into = 'adjustment_total' then lines.amount else 0 end) as adjustment_total,
        sum(case when line_types.rolls_into = 'tax_total' then lines.amount else 0 end) as tax_total,
        sum(case when line_types.rolls_into = 'threshold_billed' then -lines.amount else 0 end) as threshold_billed,
        sum(case when line_types.rolls_into = 'credits_applied' then -lines.amount else 0 end) as credits_applied,
        sum(lines.amount) as total_due,
        count(*) as line_count
    from {{ lines }} as lines
    left join {{ ref('invoice_line_types') }} as line_types
        on
            lines.line_type = line_types.line_type
            and line_types.line_scope = {{ line_scope('lines.product_id') }}
    group by lines.invoice_id
{%- endmacro %}
