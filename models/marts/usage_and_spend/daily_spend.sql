-- depends_on: {{ ref('int_contract_billing_periods') }}
-- depends_on: {{ ref('int_usage_daily_price_matches') }}
-- depends_on: {{ ref('int_invoice_reference_fingerprints') }}
{{
    config(
        materialized='incremental',
        incremental_strategy=replace_strategy(),
        partition_by=spark_partition_by(['period_start']),
        unique_key='invoice_id',
        on_schema_change='append_new_columns',
        indexes=postgres_indexes([['invoice_id']]),
        pre_hook=[
            "{{ delete_rows_of_other_invoice_reference_data() }}",
            "{{ delete_all_rows_when_source_rebuilt(ref('int_usage_daily_price_matches')) }}",
        ],
    )
}}
{#
  What each day added to its billing period's usage charges (SPEC 6.3). A usage charge's amount on a
  day is the increase of its rated amount so far (int_usage_charges_to_date) over its previous usage
  day: graduated tiers are charged on the day usage crosses into them, a package on the day it is
  opened, a max on the day the maximum rises (a latest value that falls gives a negative amount).
  A usage charge without events in its period (a carried-forward latest value, or a charge rated at
  zero usage) is billed on the period's first day. So a period's days sum to its invoice's usage
  lines, cent for cent; recurring fees, terms and credits are not usage spend (invoice_lines).

  Incremental per invoice, with the same rule as int_usage_charges_to_date (decision 58,
  macros/usage_spend.sql): the draft periods, the periods whose usage was recomputed since the
  previous run and the later periods of their contracts, everything when reference data changed.
#}
{%- set source_stamp = newest_recomputed_at(ref('int_usage_daily_price_matches')) -%}
{%- set recompute_some = is_incremental() and not spend_reference_changed() -%}
{%- if recompute_some -%}
    {%- set caught_up = caught_up_to() -%}
    {%- set first_period_start = first_recomputed_period_start(caught_up) -%}
{%- endif %}
with

{% if recompute_some %}
    {{ spend_invoices_to_recompute_ctes(caught_up) }},

    charges_to_date as (

        select charges.*
        from {{ ref('int_usage_charges_to_date') }} as charges
        inner join invoices_to_recompute
            on charges.invoice_id = invoices_to_recompute.invoice_id
        where charges.period_start >= {{ first_period_start }}

    ),

    usage_lines as (

        select lines.*
        from {{ ref('int_charges_rated') }} as lines
        inner join invoices_to_recompute
            on lines.invoice_id = invoices_to_recompute.invoice_id
        where lines.line_type = 'usage'

    ),
{% else %}
    charges_to_date as (

        select * from {{ ref('int_usage_charges_to_date') }}

    ),

    usage_lines as (

        select * from {{ ref('int_charges_rated') }}
        where line_type = 'usage'

    ),
{% endif %}

reference_fingerprints as (

    select * from {{ ref('int_invoice_reference_fingerprints') }}

),

billing_periods as (

    select * from {{ ref('int_contract_billing_periods') }}

),

charge_days as (

    select
        invoice_id,
        contract_id,
        customer_id,
        currency,
        metric_id,
        dimensions,
        usage_date,
        event_count,
        amount_to_date - coalesce(
            lag(amount_to_date) over (
                partition by invoice_id, price_id, dimensions
                order by usage_date
            ),
            0
        ) as amount
    from charges_to_date

),

charges_with_usage_days as (

    select distinct
        invoice_id,
        price_id,
        dimensions
    from charges_to_date

),

{# usage lines of charges that had no usage day in their period: billed on the period's first day #}
lines_without_usage_days as (

    select
        usage_lines.invoice_id,
        usage_lines.contract_id,
        usage_lines.customer_id,
        usage_lines.currency,
        usage_lines.metric_id,
        usage_lines.dimensions,
        cast({{ dbt.date_trunc('day', 'billing_periods.coverage_starts_at') }} as date) as usage_date,
        0 as event_count,
        usage_lines.amount
    from usage_lines
    inner join billing_periods
        on usage_lines.invoice_id = billing_periods.invoice_id
    left join charges_with_usage_days
        on
            usage_lines.invoice_id = charges_with_usage_days.invoice_id
            and usage_lines.price_id = charges_with_usage_days.price_id
            and usage_lines.dimensions = charges_with_usage_days.dimensions
    where charges_with_usage_days.invoice_id is null

),

spend_rows as (

    select * from charge_days
    union all
    select * from lines_without_usage_days

),

final as (

    select
        spend_rows.customer_id,
        spend_rows.contract_id,
        spend_rows.invoice_id,
        billing_periods.period_start,
        billing_periods.period_end,
        spend_rows.currency,
        spend_rows.metric_id,
        spend_rows.dimensions,
        spend_rows.usage_date,
        cast(sum(spend_rows.event_count) as {{ dbt.type_bigint() }}) as event_count,
        cast(sum(spend_rows.amount) as {{ money_type() }}) as amount,
        reference_fingerprints.reference_fingerprint,
        {{ source_stamp }} as source_recomputed_at
    from spend_rows
    inner join billing_periods
        on spend_rows.invoice_id = billing_periods.invoice_id
    left join reference_fingerprints
        on spend_rows.invoice_id = reference_fingerprints.invoice_id
    group by
        spend_rows.customer_id,
        spend_rows.contract_id,
        spend_rows.invoice_id,
        billing_periods.period_start,
        billing_periods.period_end,
        spend_rows.currency,
        spend_rows.metric_id,
        spend_rows.dimensions,
        spend_rows.usage_date,
        reference_fingerprints.reference_fingerprint

)

select * from final
