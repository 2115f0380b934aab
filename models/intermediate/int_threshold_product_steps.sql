{{
    config(
        materialized=('table' if target.type == 'spark' else 'incremental'),
        incremental_strategy='append',
        on_schema_change='append_new_columns',
        pre_hook="{{ delete_invoices_to_recompute(threshold_replay_fingerprint_query()) }}",
        indexes=postgres_indexes([['invoice_id']]),
    )
}}
{#
  Progressive billing (SPEC 6.2), step 1: each usage charge of a contract with billing thresholds,
  replayed event by event in data time. One row per invoice (contract x billing period) x product x
  replay step at which the product's amount changed; a replay step is one accepted event, in
  ingestion order (ingested_at, then occurred_at, then event_id), counted within the period.

  At each step every price line (price row x dimension group) has its quantity so far (a sum or count
  so far, the largest value so far, the distinct values first seen so far, the value of the event
  with the latest occurred_at among those ingested so far), rated by the pricing macros and rounded
  like an invoice line; percentage lines add up their events, the first free_units in ingestion order
  free. A product's usage amount so far is the sum of its lines' amounts, found by adding up each
  line's change at each step (no join of every step with every line). The charge terms then apply
  as on the period invoice (override, charge discounts, the maximum; not the minimum), through the
  same macro (charge_terms_ctes).

  Only events that can still reach a threshold are replayed: those ingested before the period's close.
  Latest values carried forward from earlier periods are not counted (the period invoice, which
  subtracts what threshold invoices billed, counts them).

  Incremental on DuckDB and Postgres, by billing period: a run replays only the periods whose rows the
  pre-hook deleted (the batch's new usage fell in them, or the reference data changed) and those never
  replayed (delete_invoices_to_recompute says which). A period's replay depends on nothing else:
  only events ingested before its close count, and the run's clock does not enter it. On Spark, which
  cannot delete rows without a table format (decision 41), a table rebuilt by every run.
#}
with recursive

threshold_contracts as (

    select distinct contract_id
    from {{ ref('stg_seed__billing_thresholds') }}

),

{# the periods to replay: on an incremental run, those the table does not hold (see the config) #}
billing_periods as (

    select billing_periods.*
    from {{ ref('int_contract_billing_periods') }} as billing_periods
    inner join threshold_contracts
        on billing_periods.contract_id = threshold_contracts.contract_id
    {% if is_incremental() %}
        where not exists (
            select 1
            from {{ this }} as replayed_before
            where replayed_before.invoice_id = billing_periods.invoice_id
        )
    {% endif %}

),

currencies as (

    select * from {{ ref('stg_seed__currencies') }}

),

prices as (

    select * from {{ ref('int_prices_resolved') }}

),

tiers as (

    select * from {{ ref('int_price_tiers_bounded') }}

),

{# duplicates and quarantined rows: every other metric value is accepted usage #}
not_accepted as (

    select raw_row_key
    from {{ ref('int_usage_events_classified') }}
    where event_status <> 'accepted'

),

priced_groups as (

    select distinct
        price_matches.invoice_id,
        price_matches.contract_id,
        price_matches.usage_date,
        price_matches.metric_id,
        price_matches.dimensions,
        price_matches.product_id,
        price_matches.price_id
    from {{ ref('int_usage_daily_price_matches') }} as price_matches
    inner join billing_periods
        on price_matches.invoice_id = billing_periods.invoice_id
    where price_matches.is_priced

),

priced_events as (

    select
        priced_groups.invoice_id,
        priced_groups.price_id,
        priced_groups.product_id,
        priced_groups.dimensions,
        metric_values.event_id,
        metric_values.occurred_at,
        metric_values.ingested_at,
        metric_values.aggregation,
        metric_values.metric_value,
        metric_values.metric_value_text
    from {{ ref('int_usage_event_metric_values') }} as metric_values
    inner join priced_groups
        on
            metric_values.contract_id = priced_groups.contract_id
            and metric_values.usage_date = priced_groups.usage_date
            and metric_values.metric_id = priced_groups.metric_id
            and metric_values.dimensions = priced_groups.dimensions
    inner join billing_periods
        on priced_groups.invoice_id = billing_periods.invoice_id
    left join not_accepted
        on metric_values.raw_row_key = not_accepted.raw_row_key
    where
        not_accepted.raw_row_key is null
        and metric_values.ingested_at < billing_periods.closes_at

),

{% set replay_order = 'ingested_at, occurred_at, event_id' %}
{% set line = 'invoice_id, price_id, dimensions' %}
replayed as (

    select
        *,
        dense_rank() over (partition by invoice_id order by {{ replay_order }}) as replay_step,
        row_number() over (partition by {{ line }} order by {{ replay_order }}) as line_step,
        {# the events of a latest line ranked by when they happened, to find the latest one so far #}
        row_number() over (partition by {{ line }} order by occurred_at, event_id) as occurrence_rank,
        case
            when aggregation = 'unique_count' and row_number() over (
                partition by {{ line }}, metric_value_text order by {{ replay_order }}
            ) = 1 then 1
            else 0
        end as is_first_sighting
    from priced_events

),

{% set line_so_far -%}
    partition by {{ line }}
    order by line_step
    rows between unbounded preceding and current row
{%- endset %}
lines_so_far as (

    select
        *,
        count(*) over ({{ line_so_far }}) as event_count_so_far,
        sum(metric_value) over ({{ line_so_far }}) as value_sum_so_far,
        max(metric_value) over ({{ line_so_far }}) as value_max_so_far,
        sum(is_first_sighting) over ({{ line_so_far }}) as distinct_count_so_far,
        case
            when occurrence_rank = max(occurrence_rank) over ({{ line_so_far }}) then 1
            else 0
        end as is_latest_so_far
    from replayed

),

{# the steps since the latest event so far last changed share one latest_run: its first row's value #}
latest_runs as (

    select
        *,
        sum(is_latest_so_far) over ({{ line_so_far }}) as latest_run
    from lines_so_far

),

quantities as (

    select
        latest_runs.*,
        cast(
            case latest_runs.aggregation
                when 'count' then latest_runs.event_count_so_far
                when 'sum' then latest_runs.value_sum_so_far
                when 'max' then latest_runs.value_max_so_far
                when 'unique_count' then latest_runs.distinct_count_so_far
                when 'latest' then first_value(latest_runs.metric_value) over (
                    partition by
                        latest_runs.invoice_id, latest_runs.price_id, latest_runs.dimensions,
                        latest_runs.latest_run
                    order by latest_runs.line_step
                    rows between unbounded preceding and current row
                )
            end as {{ exact_decimal_type() }}
        ) as quantity_so_far
    from latest_runs

),

priced_steps as (

    select
        quantities.*,
        prices.pricing_model,
        prices.unit_price,
        prices.free_units,
        prices.package_size,
        prices.package_rounding,
        prices.percentage_rate,
        prices.fixed_fee_per_event,
        prices.min_per_event,
        prices.max_per_event
    from quantities
    inner join prices
        on quantities.price_id = prices.price_id

),

graduated_amounts as (

    select
        priced_steps.invoice_id,
        priced_steps.price_id,
        priced_steps.dimensions,
        priced_steps.line_step,
        sum({{ graduated_tier_amount(
            'priced_steps.quantity_so_far', 'tiers.tier', 'tiers.lower_bound', 'tiers.up_to',
            'tiers.unit_price', 'tiers.flat_fee'
        ) }}) as amount_unrounded
    from priced_steps
    inner join tiers
        on priced_steps.price_id = tiers.price_id
    where priced_steps.pricing_model = 'graduated'
    group by priced_steps.invoice_id, priced_steps.price_id, priced_steps.dimensions, priced_steps.line_step

),

volume_amounts as (

    select
        priced_steps.invoice_id,
        priced_steps.price_id,
        priced_steps.dimensions,
        priced_steps.line_step,
        {{ volume_amount('priced_steps.quantity_so_far', 'tiers.unit_price', 'tiers.flat_fee') }}
            as amount_unrounded
    from priced_steps
    inner join tiers
        on
            priced_steps.price_id = tiers.price_id
            and {{ volume_tier_holds_quantity(
                'priced_steps.quantity_so_far', 'tiers.tier', 'tiers.lower_bound', 'tiers.up_to'
            ) }}
    where priced_steps.pricing_model = 'volume'

),

percentage_amounts as (

    select
        invoice_id,
        price_id,
        dimensions,
        line_step,
        sum({{ percentage_event_amount(
            'metric_value', 'percentage_rate', 'fixed_fee_per_event', 'min_per_event', 'max_per_event',
            'line_step <= coalesce(free_units, 0)'
        ) }}) over ({{ line_so_far }}) as amount_unrounded
    from priced_steps
    where pricing_model = 'percentage'

),

line_amounts as (

    select
        priced_steps.invoice_id,
        priced_steps.product_id,
        priced_steps.price_id,
        priced_steps.dimensions,
        priced_steps.line_step,
        priced_steps.replay_step,
        priced_steps.ingested_at,
        {{ round_to_minor_units(
            'case priced_steps.pricing_model'
            ~ ' when \'unit\' then ' ~ unit_amount(
                'priced_steps.quantity_so_far', 'priced_steps.free_units', 'priced_steps.unit_price')
            ~ ' when \'package\' then ' ~ package_amount(
                'priced_steps.quantity_so_far', 'priced_steps.free_units', 'priced_steps.package_size',
                'priced_steps.package_rounding', 'priced_steps.unit_price')
            ~ ' when \'graduated\' then graduated_amounts.amount_unrounded'
            ~ ' when \'volume\' then volume_amounts.amount_unrounded'
            ~ ' when \'percentage\' then percentage_amounts.amount_unrounded end',
            'currencies.minor_units'
        ) }} as line_amount
    from priced_steps
    inner join billing_periods
        on priced_steps.invoice_id = billing_periods.invoice_id
    inner join currencies
        on billing_periods.currency = currencies.currency
    left join graduated_amounts
        on
            priced_steps.invoice_id = graduated_amounts.invoice_id
            and priced_steps.price_id = graduated_amounts.price_id
            and priced_steps.dimensions = graduated_amounts.dimensions
            and priced_steps.line_step = graduated_amounts.line_step
    left join volume_amounts
        on
            priced_steps.invoice_id = volume_amounts.invoice_id
            and priced_steps.price_id = volume_amounts.price_id
            and priced_steps.dimensions = volume_amounts.dimensions
            and priced_steps.line_step = volume_amounts.line_step
    left join percentage_amounts
        on
            priced_steps.invoice_id = percentage_amounts.invoice_id
            and priced_steps.price_id = percentage_amounts.price_id
            and priced_steps.dimensions = percentage_amounts.dimensions
            and priced_steps.line_step = percentage_amounts.line_step

),

{# what each step added to its line, summed per product and step #}
product_changes as (

    select
        invoice_id,
        product_id,
        replay_step,
        max(ingested_at) as ingested_at,
        sum(line_change) as usage_change
    from (
        select
            line_amounts.*,
            line_amounts.line_amount - coalesce(lag(line_amounts.line_amount) over (
                partition by line_amounts.invoice_id, line_amounts.price_id, line_amounts.dimensions
                order by line_amounts.line_step
            ), 0) as line_change
        from line_amounts
    ) as line_changes
    group by invoice_id, product_id, replay_step

),

charge_context as (

    select
        product_changes.invoice_id,
        product_changes.product_id,
        product_changes.replay_step,
        product_changes.ingested_at,
        billing_periods.contract_id,
        billing_periods.rate_card_id,
        billing_periods.coverage_starts_at,
        currencies.minor_units,
        true as is_usage_charge,
        sum(product_changes.usage_change) over (
            partition by product_changes.invoice_id, product_changes.product_id
            order by product_changes.replay_step
            rows between unbounded preceding and current row
        ) as charge_amount,
        {{ dbt.hash(
            "product_changes.invoice_id || '|' || product_changes.product_id || '|' || "
            ~ "cast(product_changes.replay_step as " ~ dbt.type_string() ~ ")"
        ) }} as chain_key
    from product_changes
    inner join billing_periods
        on product_changes.invoice_id = billing_periods.invoice_id
    inner join currencies
        on billing_periods.currency = currencies.currency

),

{{ charge_terms_ctes('charge_context') }},

{# what the rows were written with: the pre-hook of the next run compares both #}
{{ invoice_recompute_bookkeeping_ctes(threshold_replay_fingerprint_query()) }},

final as (

    select
        overridden.invoice_id,
        overridden.contract_id,
        overridden.product_id,
        cast(overridden.replay_step as {{ dbt.type_bigint() }}) as replay_step,
        overridden.ingested_at,
        cast(overridden.charge_amount as {{ exact_decimal_type() }}) as usage_amount,
        cast(
            case
                when charge_limits.maximum_amount is null then after_discounts.amount_after_discounts
                else least(after_discounts.amount_after_discounts, charge_limits.maximum_amount)
            end as {{ exact_decimal_type() }}
        ) as amount_after_terms,
        reference_fingerprint.reference_fingerprint,
        classified_through.classified_through
    from overridden
    inner join after_discounts
        on overridden.chain_key = after_discounts.chain_key
    left join charge_limits
        on overridden.chain_key = charge_limits.chain_key
    cross join reference_fingerprint
    cross join classified_through

)

select * from final
