{#
  Progressive billing (SPEC 6.2), step 2: the threshold invoices. One row per threshold invoice
  (contract x billing period x threshold_sequence).

  The running amount after each replay step is the sum of the period's usage charges after terms
  (int_threshold_product_steps). The levels reached are counted on the highest running amount so far
  (a level once reached stays reached): a one-shot row counts once from its amount_due, a recurring row
  once per whole multiple of its amount_due. The first step that reaches one or more new levels issues
  threshold invoice n (1, 2, ... within the period) at its event's ingested_at; the replay only holds
  events ingested before the period's close, so no threshold invoice is issued at or after it. Found in
  data time: the same events give the same invoices however often the project runs, and a later event
  can never move or remove an earlier threshold invoice.
#}
with

product_steps as (

    select * from {{ ref('int_threshold_product_steps') }}

),

thresholds as (

    select * from {{ ref('stg_seed__billing_thresholds') }}

),

billing_periods as (

    select * from {{ ref('int_contract_billing_periods') }}

),

{# what each step added to the running amount, over the period's products #}
step_changes as (

    select
        invoice_id,
        contract_id,
        replay_step,
        max(ingested_at) as ingested_at,
        sum(amount_change) as amount_change
    from (
        select
            product_steps.*,
            product_steps.amount_after_terms - coalesce(lag(product_steps.amount_after_terms) over (
                partition by product_steps.invoice_id, product_steps.product_id
                order by product_steps.replay_step
            ), 0) as amount_change
        from product_steps
    ) as product_changes
    group by invoice_id, contract_id, replay_step

),

{% set so_far -%}
    partition by invoice_id
    order by replay_step
    rows between unbounded preceding and current row
{%- endset %}
running_amounts as (

    select
        *,
        sum(amount_change) over ({{ so_far }}) as running_amount
    from step_changes

),

highest_amounts as (

    select
        *,
        max(running_amount) over ({{ so_far }}) as highest_amount
    from running_amounts

),

step_levels as (

    select
        highest_amounts.invoice_id,
        highest_amounts.contract_id,
        highest_amounts.replay_step,
        highest_amounts.ingested_at,
        highest_amounts.running_amount,
        sum(
            case
                when thresholds.is_recurring
                    then floor({{ divide_truncated('highest_amounts.highest_amount', 'thresholds.amount_due') }})
                when highest_amounts.highest_amount >= thresholds.amount_due then 1
                else 0
            end
        ) as levels_reached
    from highest_amounts
    inner join thresholds
        on highest_amounts.contract_id = thresholds.contract_id
    group by
        highest_amounts.invoice_id,
        highest_amounts.contract_id,
        highest_amounts.replay_step,
        highest_amounts.ingested_at,
        highest_amounts.running_amount

),

crossings as (

    select
        *,
        row_number() over (partition by invoice_id order by replay_step) as threshold_sequence
    from (
        select
            step_levels.*,
            coalesce(lag(step_levels.levels_reached) over (
                partition by step_levels.invoice_id order by step_levels.replay_step
            ), 0) as levels_before
        from step_levels
    ) as with_levels_before
    where levels_reached > levels_before

),

final as (

    select
        {{ dbt.hash(
            "billing_periods.contract_id || '|' || cast(billing_periods.period_start as " ~ dbt.type_string()
            ~ ") || '|threshold|' || cast(crossings.threshold_sequence as " ~ dbt.type_string() ~ ")"
        ) }} as invoice_id,
        crossings.invoice_id as period_invoice_id,
        billing_periods.contract_id,
        billing_periods.period_start,
        billing_periods.period_end,
        cast(crossings.threshold_sequence as integer) as threshold_sequence,
        cast(crossings.replay_step as {{ dbt.type_bigint() }}) as replay_step,
        cast(crossings.levels_reached as {{ dbt.type_bigint() }}) as levels_reached,
        cast(crossings.running_amount as {{ exact_decimal_type() }}) as running_amount,
        crossings.ingested_at as issued_at
    from crossings
    inner join billing_periods
        on crossings.invoice_id = billing_periods.invoice_id

)

select * from final
