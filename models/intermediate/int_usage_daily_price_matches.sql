{{
    config(
        materialized='incremental',
        incremental_strategy=replace_strategy(),
        partition_by=spark_partition_by(['usage_date']),
        unique_key=['contract_id', 'usage_date'],
        indexes=postgres_indexes([['contract_id', 'usage_date']]),
        pre_hook=[
            "{{ hash_joins_only() }}",
            "{{ delete_rows_of_other_reference_data(usage_pricing_fingerprint_query()) }}",
        ],
    )
}}
-- depends_on: {{ ref('int_reference_data_errors') }}
{#
  Each day's usage group matched to the price row that bills it (contract §4.3 and §4.4 effective
  dating). For every product (charge) of the contract that bills the group's metric, the row in force
  on that day is chosen: a contract's own price of a product replaces the rate card's price of that
  product while effective; among the remaining rows the most specific dimension match wins. Price
  rows start and end on whole UTC days (checked in int_reference_data_errors), so the row in force at
  an event's occurred_at is the row in force on its day. A group with no matching row keeps price_id
  null: unpriced usage, reported, never dropped. unique_count groups are summed up here over their
  distinct values; int_charge_quantities counts the values themselves across the period.

  Incremental on (contract, day), like int_usage_daily_aggregates. A run re-matches:
  - the contract-days whose daily groups the batch changed (newest_ingested_at in the batch);
  - every contract-day from the day of the newest usage already rated onwards: a day past the run's
    clock can have usage (future_tolerance_hours) before its billing period exists, and such a day
    is matched again by each run until its period does;
  - everything, when the prices or contracts changed since the rows were written (their
    reference_fingerprint differs): a seed edit re-rates history, not only new usage. A pre-hook
    first deletes the rows written under the old reference data, so a contract-day that no longer
    lies in a billing period (a contract shortened) loses its rows instead of keeping stale ones.
#}
{%- set fingerprint_query = usage_pricing_fingerprint_query() -%}
{%- if is_incremental() -%}
    {%- set current_fingerprint = query_value_text(fingerprint_query, '') -%}
    {%- set rows_with_other_fingerprint = query_value_text(
        "select count(*) from " ~ this ~ " where reference_fingerprint <> '" ~ current_fingerprint ~ "'", '0'
    ) -%}
    {%- set rerate_everything = rows_with_other_fingerprint != '0' -%}
    {%- set newest_rated_day = dbt.date_trunc(
        'day', timestamp_literal(newest_ingested_at(this, 'newest_ingested_at'))
    ) -%}
{%- endif %}

with

{% if is_incremental() and not rerate_everything %}
    days_to_rate as (

        select distinct {{ recomputed_day_keys() | join(', ') }}
        from {{ ref('int_usage_daily_aggregates') }}
        where
            ({{ in_incremental_batch('newest_ingested_at', 'newest_ingested_at') }})
            or usage_date >= cast({{ newest_rated_day }} as date)

    ),

    daily_usage as (

        select daily.*
        from {{ ref('int_usage_daily_aggregates') }} as daily
        inner join days_to_rate
            on {{ join_on_keys('daily', 'days_to_rate', recomputed_day_keys()) }}

    ),
{% else %}
    daily_usage as (

        select * from {{ ref('int_usage_daily_aggregates') }}

    ),
{% endif %}

reference_fingerprint as (

    {{ fingerprint_query }}

),

billing_periods as (

    select * from {{ ref('int_contract_billing_periods') }}

),

prices as (

    select * from {{ ref('int_prices_resolved') }}
    where charge_type = 'usage'

),

{# a contract's own seats price (SPEC 6.2) replaces its rate card's usage price of the same product #}
contract_seats_prices as (

    select * from {{ ref('int_prices_resolved') }}
    where charge_type = 'recurring' and metric_id is not null and contract_id is not null

),

{# one row per group: unique_count keeps a row per distinct value in daily_usage, other metrics one #}
group_totals as (

    select
        contract_id,
        customer_id,
        usage_date,
        metric_id,
        aggregation,
        dimension_value_1,
        dimension_value_2,
        dimension_value_3,
        dimensions,
        sum(event_count) as event_count,
        sum(value_sum) as value_sum,
        max(value_max) as value_max,
        max(latest_value) as latest_value,
        max(latest_occurred_at) as latest_occurred_at,
        max(latest_event_id) as latest_event_id,
        min(first_occurred_at) as first_occurred_at,
        max(last_occurred_at) as last_occurred_at,
        max(newest_ingested_at) as newest_ingested_at
    from daily_usage
    group by
        contract_id,
        customer_id,
        usage_date,
        metric_id,
        aggregation,
        dimension_value_1,
        dimension_value_2,
        dimension_value_3,
        dimensions

),

{# each day lies in exactly one billing period of its contract: still one row per group #}
usage_groups as (

    select
        group_totals.*,
        billing_periods.invoice_id,
        billing_periods.rate_card_id,
        billing_periods.currency,
        billing_periods.period_start,
        billing_periods.period_end
    from group_totals
    inner join billing_periods
        on
            group_totals.contract_id = billing_periods.contract_id
            and cast(group_totals.usage_date as timestamp) >= billing_periods.period_start
            and cast(group_totals.usage_date as timestamp) < billing_periods.period_end

),

prices_in_force as (

    select
        usage_groups.invoice_id,
        usage_groups.usage_date,
        usage_groups.metric_id,
        usage_groups.dimensions,
        usage_groups.dimension_value_1 as group_dimension_value_1,
        usage_groups.dimension_value_2 as group_dimension_value_2,
        usage_groups.dimension_value_3 as group_dimension_value_3,
        prices.price_id,
        prices.product_id,
        prices.contract_id as price_contract_id,
        prices.dimension_value_1,
        prices.dimension_value_2,
        prices.dimension_value_3,
        prices.specificity,
        {{ contract_price_present(
            'prices',
            'usage_groups.invoice_id, usage_groups.usage_date, usage_groups.metric_id, '
            ~ 'usage_groups.dimensions, prices.product_id'
        ) }} as product_has_contract_price
    from usage_groups
    inner join prices
        on
            usage_groups.metric_id = prices.metric_id
            and {{ price_applies('prices', 'usage_groups', 'cast(usage_groups.usage_date as timestamp)') }}
    left join contract_seats_prices
        on
            usage_groups.contract_id = contract_seats_prices.contract_id
            and prices.product_id = contract_seats_prices.product_id
            and {{ is_in_force(
                'contract_seats_prices.effective_from', 'contract_seats_prices.effective_to',
                'cast(usage_groups.usage_date as timestamp)'
            ) }}
    where contract_seats_prices.price_id is null

),

group_products as (

    select distinct
        invoice_id,
        usage_date,
        metric_id,
        dimensions,
        product_id
    from prices_in_force

),

best_matches as (

    select
        invoice_id,
        usage_date,
        metric_id,
        dimensions,
        product_id,
        price_id,
        row_number() over (
            partition by invoice_id, usage_date, metric_id, dimensions, product_id
            order by specificity desc, price_id asc
        ) as match_rank
    from prices_in_force
    where
        {{ is_contract_price_choice('price_contract_id', 'product_has_contract_price') }}
        and (dimension_value_1 is null or dimension_value_1 = group_dimension_value_1)
        and (dimension_value_2 is null or dimension_value_2 = group_dimension_value_2)
        and (dimension_value_3 is null or dimension_value_3 = group_dimension_value_3)

),

final as (

    select
        usage_groups.invoice_id,
        usage_groups.contract_id,
        usage_groups.customer_id,
        usage_groups.rate_card_id,
        usage_groups.currency,
        usage_groups.period_start,
        usage_groups.period_end,
        usage_groups.usage_date,
        usage_groups.metric_id,
        usage_groups.aggregation,
        usage_groups.dimension_value_1,
        usage_groups.dimension_value_2,
        usage_groups.dimension_value_3,
        usage_groups.dimensions,
        usage_groups.event_count,
        usage_groups.value_sum,
        usage_groups.value_max,
        usage_groups.latest_value,
        usage_groups.latest_occurred_at,
        usage_groups.latest_event_id,
        usage_groups.first_occurred_at,
        usage_groups.last_occurred_at,
        group_products.product_id,
        best_matches.price_id,
        best_matches.price_id is not null as is_priced,
        usage_groups.newest_ingested_at,
        reference_fingerprint.reference_fingerprint,
        {{ recomputed_at_stamp() }} as recomputed_at
    from usage_groups
    cross join reference_fingerprint
    left join group_products
        on
            usage_groups.invoice_id = group_products.invoice_id
            and usage_groups.usage_date = group_products.usage_date
            and usage_groups.metric_id = group_products.metric_id
            and usage_groups.dimensions = group_products.dimensions
    left join best_matches
        on
            group_products.invoice_id = best_matches.invoice_id
            and group_products.usage_date = best_matches.usage_date
            and group_products.metric_id = best_matches.metric_id
            and group_products.dimensions = best_matches.dimensions
            and group_products.product_id = best_matches.product_id
            and best_matches.match_rank = 1

)

select * from final
