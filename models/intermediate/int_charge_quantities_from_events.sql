-- depends_on: {{ ref('int_contract_billing_periods') }}
{{
    config(
        materialized=('table' if target.type == 'spark' else 'incremental'),
        incremental_strategy='append',
        on_schema_change='append_new_columns',
        pre_hook="{{ delete_invoices_to_recompute(usage_pricing_fingerprint_query()) }}",
        indexes=postgres_indexes([['invoice_id']]),
    )
}}
{#
  Step 1 of a charge's period quantity: the quantity of each invoice (contract x billing period) x
  price row x dimension group that has accepted, priced events in the period, by the metric's
  aggregation over the period's daily groups (int_usage_daily_price_matches).

  Incremental on DuckDB and Postgres, by invoice: a run computes the invoices its pre-hook deleted (the
  batch's new usage fell in their period, or the prices or contracts changed) and those it never
  computed (delete_invoices_to_recompute); the others keep their rows, as a period's quantity depends
  only on its own usage. On Spark a table rebuilt by every run.
#}
with

priced_usage as (

    select price_matches.*
    from {{ ref('int_usage_daily_price_matches') }} as price_matches
    where
        price_matches.is_priced
    {% if is_incremental() %}
        and not exists (
            select 1
            from {{ this }} as computed_before
            where computed_before.invoice_id = price_matches.invoice_id
        )
    {% endif %}

),

daily_aggregates as (

    select * from {{ ref('int_usage_daily_aggregates') }}

),

{# count, sum, max: the daily groups add up (max of the days' maxima) #}
summed as (

    select
        invoice_id,
        contract_id,
        price_id,
        product_id,
        metric_id,
        aggregation,
        dimensions,
        sum(event_count) as event_count,
        case aggregation
            when 'count' then cast(sum(event_count) as {{ exact_decimal_type() }})
            when 'sum' then cast(sum(value_sum) as {{ exact_decimal_type() }})
            when 'max' then cast(max(value_max) as {{ exact_decimal_type() }})
        end as summed_quantity
    from priced_usage
    group by invoice_id, contract_id, price_id, product_id, metric_id, aggregation, dimensions

),

{# unique_count: distinct values across the whole period, never a sum of the days' counts #}
distinct_counts as (

    select
        priced_usage.invoice_id,
        priced_usage.price_id,
        priced_usage.dimensions,
        count(distinct daily_aggregates.distinct_value) as distinct_count
    from priced_usage
    inner join daily_aggregates
        on
            priced_usage.contract_id = daily_aggregates.contract_id
            and priced_usage.usage_date = daily_aggregates.usage_date
            and priced_usage.metric_id = daily_aggregates.metric_id
            and priced_usage.dimensions = daily_aggregates.dimensions
    where priced_usage.aggregation = 'unique_count'
    group by priced_usage.invoice_id, priced_usage.price_id, priced_usage.dimensions

),

{# latest: the value of the period's last event, ties on occurred_at broken by the higher event_id #}
latest_ranked as (

    select
        invoice_id,
        price_id,
        dimensions,
        latest_value,
        row_number() over (
            partition by invoice_id, price_id, dimensions
            order by latest_occurred_at desc, latest_event_id desc
        ) as recency_rank
    from priced_usage
    where aggregation = 'latest'

),

latest_values as (

    select
        invoice_id,
        price_id,
        dimensions,
        latest_value
    from latest_ranked
    where recency_rank = 1

),

{# what the rows were written with: the pre-hook of the next run compares both #}
{{ invoice_recompute_bookkeeping_ctes(usage_pricing_fingerprint_query()) }},

{# unique_count reads its distinct count; latest (no summed quantity) the value of the last event #}
final as (

    select
        summed.invoice_id,
        summed.contract_id,
        summed.price_id,
        summed.product_id,
        summed.metric_id,
        summed.dimensions,
        summed.event_count,
        cast(
            coalesce(
                case
                    when summed.aggregation = 'unique_count'
                        then cast(distinct_counts.distinct_count as {{ exact_decimal_type() }})
                    else summed.summed_quantity
                end,
                latest_values.latest_value
            ) as {{ exact_decimal_type() }}
        ) as quantity,
        'events' as quantity_source,
        reference_fingerprint.reference_fingerprint,
        classified_through.classified_through
    from summed
    left join distinct_counts
        on
            summed.invoice_id = distinct_counts.invoice_id
            and summed.price_id = distinct_counts.price_id
            and summed.dimensions = distinct_counts.dimensions
    left join latest_values
        on
            summed.invoice_id = latest_values.invoice_id
            and summed.price_id = latest_values.price_id
            and summed.dimensions = latest_values.dimensions
    cross join reference_fingerprint
    cross join classified_through

)

select * from final
