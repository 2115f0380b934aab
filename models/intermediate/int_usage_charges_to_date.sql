-- depends_on: {{ ref('int_contract_billing_periods') }}
-- depends_on: {{ ref('int_usage_daily_price_matches') }}
-- depends_on: {{ ref('int_invoice_reference_fingerprints') }}
{{
    config(
        materialized='incremental',
        incremental_strategy=replace_strategy(),
        partition_by=spark_partition_by(['period_start']),
        unique_key='invoice_id',
        indexes=postgres_indexes([['invoice_id']]),
        pre_hook=[
            "{{ delete_rows_of_other_invoice_reference_data() }}",
            "{{ delete_all_rows_when_source_rebuilt(ref('int_usage_daily_price_matches')) }}",
        ],
    )
}}
{#
  Each usage charge rated on every day it had usage, with everything the period held up to that day:
  one row per invoice (contract x billing period) x price row x dimension group x UTC day with priced
  events. quantity_to_date is the metric's aggregation over the period's days up to and including that
  day (a sum or count so far, the largest value so far, the distinct values seen so far, the latest
  value), and amount_to_date is that quantity rated by the charge's pricing model and rounded like an
  invoice line (macros/pricing.sql, the formulas int_charges_rated uses). On a period's last usage day
  it is the invoice's usage line; the increase from one usage day to the next is what that day added
  (daily_spend). Percentage charges add up their events' amounts so far (free events counted from the
  period's start).

  Incremental per invoice (decision 58, macros/usage_spend.sql): a run rates again, whole, the periods
  still draft, the periods whose price matches were recomputed since its previous run and the later
  periods of their contracts, and every period when the invoice reference data changed
  (reference_fingerprint). delete+insert on invoice_id; on Spark it overwrites period_start partitions.
#}
{%- set price_matches_relation = ref('int_usage_daily_price_matches') -%}
{%- set source_stamp = newest_recomputed_at(price_matches_relation) -%}
{%- set recompute_some = is_incremental() and not spend_reference_changed() -%}
{%- if recompute_some -%}
    {%- set caught_up = caught_up_to() -%}
    {%- set first_period_start = first_recomputed_period_start(caught_up) -%}
{%- endif %}
with

{% if recompute_some %}
    {{ spend_invoices_to_recompute_ctes(caught_up) }},

    priced_days as (

        select price_matches.*
        from {{ price_matches_relation }} as price_matches
        inner join invoices_to_recompute
            on price_matches.invoice_id = invoices_to_recompute.invoice_id
        where
            price_matches.is_priced
            and price_matches.usage_date >= cast({{ first_period_start }} as date)

    ),

    daily_aggregates as (

        select * from {{ ref('int_usage_daily_aggregates') }}
        where usage_date >= cast({{ first_period_start }} as date)

    ),

    priced_events as (

        select percentage_events.*
        from {{ ref('int_percentage_usage_events') }} as percentage_events
        inner join invoices_to_recompute
            on percentage_events.invoice_id = invoices_to_recompute.invoice_id
        where percentage_events.is_priced

    ),
{% else %}
    priced_days as (

        select * from {{ price_matches_relation }}
        where is_priced

    ),

    daily_aggregates as (

        select * from {{ ref('int_usage_daily_aggregates') }}

    ),

    priced_events as (

        select * from {{ ref('int_percentage_usage_events') }}
        where is_priced

    ),
{% endif %}

reference_fingerprints as (

    select * from {{ ref('int_invoice_reference_fingerprints') }}

),

prices as (

    select * from {{ ref('int_prices_resolved') }}

),

tiers as (

    select * from {{ ref('int_price_tiers_bounded') }}

),

currencies as (

    select * from {{ ref('stg_seed__currencies') }}

),

{# unique_count: the day each distinct value was first seen in the charge's period #}
distinct_value_first_days as (

    select
        priced_days.invoice_id,
        priced_days.price_id,
        priced_days.dimensions,
        daily_aggregates.distinct_value,
        min(priced_days.usage_date) as first_seen_date
    from priced_days
    inner join daily_aggregates
        on
            priced_days.contract_id = daily_aggregates.contract_id
            and priced_days.usage_date = daily_aggregates.usage_date
            and priced_days.metric_id = daily_aggregates.metric_id
            and priced_days.dimensions = daily_aggregates.dimensions
    where priced_days.aggregation = 'unique_count'
    group by priced_days.invoice_id, priced_days.price_id, priced_days.dimensions, daily_aggregates.distinct_value

),

new_distinct_values as (

    select
        invoice_id,
        price_id,
        dimensions,
        first_seen_date as usage_date,
        count(*) as new_value_count
    from distinct_value_first_days
    group by invoice_id, price_id, dimensions, first_seen_date

),

{# one row per charge and day (a day's groups of one charge are one row already; summed to be sure) #}
charge_days as (

    select
        priced_days.invoice_id,
        priced_days.period_start,
        priced_days.contract_id,
        priced_days.customer_id,
        priced_days.currency,
        priced_days.price_id,
        priced_days.product_id,
        priced_days.metric_id,
        priced_days.aggregation,
        priced_days.dimensions,
        priced_days.usage_date,
        sum(priced_days.event_count) as event_count,
        sum(priced_days.value_sum) as value_sum,
        max(priced_days.value_max) as value_max,
        max(priced_days.latest_value) as latest_value,
        max(coalesce(new_distinct_values.new_value_count, 0)) as new_value_count
    from priced_days
    left join new_distinct_values
        on
            priced_days.invoice_id = new_distinct_values.invoice_id
            and priced_days.price_id = new_distinct_values.price_id
            and priced_days.dimensions = new_distinct_values.dimensions
            and priced_days.usage_date = new_distinct_values.usage_date
    group by
        priced_days.invoice_id,
        priced_days.period_start,
        priced_days.contract_id,
        priced_days.customer_id,
        priced_days.currency,
        priced_days.price_id,
        priced_days.product_id,
        priced_days.metric_id,
        priced_days.aggregation,
        priced_days.dimensions,
        priced_days.usage_date

),

{% set so_far -%}
    partition by charge_days.invoice_id, charge_days.price_id, charge_days.dimensions
    order by charge_days.usage_date
    rows between unbounded preceding and current row
{%- endset %}
running_totals as (

    select
        charge_days.*,
        sum(charge_days.event_count) over ({{ so_far }}) as event_count_to_date,
        sum(charge_days.value_sum) over ({{ so_far }}) as value_sum_to_date,
        max(charge_days.value_max) over ({{ so_far }}) as value_max_to_date,
        sum(charge_days.new_value_count) over ({{ so_far }}) as distinct_count_to_date
    from charge_days

),

quantities_to_date as (

    select
        running_totals.*,
        cast(
            case running_totals.aggregation
                when 'count' then running_totals.event_count_to_date
                when 'sum' then running_totals.value_sum_to_date
                when 'max' then running_totals.value_max_to_date
                when 'unique_count' then running_totals.distinct_count_to_date
                {# the day's last event is the latest so far: every row here is a day with events #}
                when 'latest' then running_totals.latest_value
            end as {{ exact_decimal_type() }}
        ) as quantity_to_date
    from running_totals

),

charges_to_date as (

    select
        quantities_to_date.*,
        prices.pricing_model,
        prices.unit_price,
        prices.free_units,
        prices.package_size,
        prices.package_rounding
    from quantities_to_date
    inner join prices
        on quantities_to_date.price_id = prices.price_id

),

graduated_amounts as (

    select
        charges_to_date.invoice_id,
        charges_to_date.price_id,
        charges_to_date.dimensions,
        charges_to_date.usage_date,
        sum({{ graduated_tier_amount(
            'charges_to_date.quantity_to_date', 'tiers.tier', 'tiers.lower_bound', 'tiers.up_to',
            'tiers.unit_price', 'tiers.flat_fee'
        ) }}) as amount_unrounded
    from charges_to_date
    inner join tiers
        on charges_to_date.price_id = tiers.price_id
    where charges_to_date.pricing_model = 'graduated'
    group by charges_to_date.invoice_id, charges_to_date.price_id, charges_to_date.dimensions, charges_to_date.usage_date

),

volume_amounts as (

    select
        charges_to_date.invoice_id,
        charges_to_date.price_id,
        charges_to_date.dimensions,
        charges_to_date.usage_date,
        {{ volume_amount('charges_to_date.quantity_to_date', 'tiers.unit_price', 'tiers.flat_fee') }}
            as amount_unrounded
    from charges_to_date
    inner join tiers
        on
            charges_to_date.price_id = tiers.price_id
            and {{ volume_tier_holds_quantity(
                'charges_to_date.quantity_to_date', 'tiers.tier', 'tiers.lower_bound', 'tiers.up_to'
            ) }}
    where charges_to_date.pricing_model = 'volume'

),

{# percentage: each event's amount, the first free_units events of the period free, summed per day #}
percentage_events as (

    select
        priced_events.invoice_id,
        priced_events.price_id,
        priced_events.dimensions,
        cast({{ dbt.date_trunc('day', 'priced_events.occurred_at') }} as date) as usage_date,
        {{ percentage_event_amount(
            'priced_events.metric_value', 'prices.percentage_rate', 'prices.fixed_fee_per_event',
            'prices.min_per_event', 'prices.max_per_event',
            'row_number() over (partition by priced_events.invoice_id, priced_events.price_id, '
            ~ 'priced_events.dimensions order by priced_events.occurred_at, priced_events.event_id) '
            ~ '<= coalesce(prices.free_units, 0)'
        ) }} as event_amount
    from priced_events
    inner join prices
        on priced_events.price_id = prices.price_id
    where prices.pricing_model = 'percentage'

),

percentage_days as (

    select
        invoice_id,
        price_id,
        dimensions,
        usage_date,
        sum(event_amount) as day_amount
    from percentage_events
    group by invoice_id, price_id, dimensions, usage_date

),

percentage_amounts as (

    select
        invoice_id,
        price_id,
        dimensions,
        usage_date,
        sum(day_amount) over (
            partition by invoice_id, price_id, dimensions
            order by usage_date
            rows between unbounded preceding and current row
        ) as amount_unrounded
    from percentage_days

),

rated as (

    select
        charges_to_date.invoice_id,
        charges_to_date.period_start,
        charges_to_date.contract_id,
        charges_to_date.customer_id,
        charges_to_date.currency,
        charges_to_date.price_id,
        charges_to_date.product_id,
        charges_to_date.metric_id,
        charges_to_date.aggregation,
        charges_to_date.pricing_model,
        charges_to_date.dimensions,
        charges_to_date.usage_date,
        charges_to_date.event_count,
        charges_to_date.event_count_to_date,
        charges_to_date.quantity_to_date,
        case charges_to_date.pricing_model
            when 'unit' then {{ unit_amount(
                'charges_to_date.quantity_to_date', 'charges_to_date.free_units', 'charges_to_date.unit_price'
            ) }}
            when 'package' then {{ package_amount(
                'charges_to_date.quantity_to_date', 'charges_to_date.free_units', 'charges_to_date.package_size',
                'charges_to_date.package_rounding', 'charges_to_date.unit_price'
            ) }}
            when 'graduated' then graduated_amounts.amount_unrounded
            when 'volume' then volume_amounts.amount_unrounded
            when 'percentage' then coalesce(percentage_amounts.amount_unrounded, 0)
        end as amount_unrounded
    from charges_to_date
    left join graduated_amounts
        on
            charges_to_date.invoice_id = graduated_amounts.invoice_id
            and charges_to_date.price_id = graduated_amounts.price_id
            and charges_to_date.dimensions = graduated_amounts.dimensions
            and charges_to_date.usage_date = graduated_amounts.usage_date
    left join volume_amounts
        on
            charges_to_date.invoice_id = volume_amounts.invoice_id
            and charges_to_date.price_id = volume_amounts.price_id
            and charges_to_date.dimensions = volume_amounts.dimensions
            and charges_to_date.usage_date = volume_amounts.usage_date
    left join percentage_amounts
        on
            charges_to_date.invoice_id = percentage_amounts.invoice_id
            and charges_to_date.price_id = percentage_amounts.price_id
            and charges_to_date.dimensions = percentage_amounts.dimensions
            and charges_to_date.usage_date = percentage_amounts.usage_date

),

final as (

    select
        rated.invoice_id,
        rated.contract_id,
        rated.customer_id,
        rated.currency,
        rated.price_id,
        rated.product_id,
        rated.metric_id,
        rated.aggregation,
        rated.pricing_model,
        rated.dimensions,
        rated.usage_date,
        rated.event_count,
        rated.event_count_to_date,
        rated.quantity_to_date,
        cast({{ round_to_minor_units('rated.amount_unrounded', 'currencies.minor_units') }} as {{ exact_decimal_type() }})
            as amount_to_date,
        reference_fingerprints.reference_fingerprint,
        {{ source_stamp }} as source_recomputed_at,
        {#- last: Spark puts its partition column last in the table -#}
        rated.period_start
    from rated
    left join currencies
        on rated.currency = currencies.currency
    left join reference_fingerprints
        on rated.invoice_id = reference_fingerprints.invoice_id

)

select * from final
