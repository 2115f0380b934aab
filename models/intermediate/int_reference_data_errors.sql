{{ config(post_hook="{{ fail_on_reference_data_errors() }}") }}
{#
  Everything wrong with the seeded reference data, one row per problem: the seed, the offending row's
  key and what is wrong. The checks live in one model per seed (models/intermediate/reference_data,
  one CTE per rule); this model gathers them. Rating models depend on it, and its post-hook fails the
  build naming every row (macro fail_on_reference_data_errors), so bad reference data never bills
  silently.
#}
with

billable_metric_errors as (

    select * from {{ ref('int_reference_errors__billable_metrics') }}

),

price_errors as (

    select * from {{ ref('int_reference_errors__prices') }}

),

price_tier_errors as (

    select * from {{ ref('int_reference_errors__price_tiers') }}

),

contract_errors as (

    select * from {{ ref('int_reference_errors__contracts') }}

),

price_override_errors as (

    select * from {{ ref('int_reference_errors__price_overrides') }}

),

discount_errors as (

    select * from {{ ref('int_reference_errors__discounts') }}

),

credit_grant_errors as (

    select * from {{ ref('int_reference_errors__credit_grants') }}

),

rate_card_errors as (

    select * from {{ ref('int_reference_errors__rate_cards') }}

),

currency_errors as (

    select * from {{ ref('int_reference_errors__currencies') }}

),

credit_note_errors as (

    select * from {{ ref('int_reference_errors__credit_notes') }}

),

usage_alert_errors as (

    select * from {{ ref('int_reference_errors__usage_alerts') }}

),

customer_errors as (

    select * from {{ ref('int_reference_errors__customers') }}

),

tax_rate_errors as (

    select * from {{ ref('int_reference_errors__tax_rates') }}

),

billing_threshold_errors as (

    select * from {{ ref('int_reference_errors__billing_thresholds') }}

),

final as (

    select * from billable_metric_errors
    union all
    select * from price_errors
    union all
    select * from price_tier_errors
    union all
    select * from contract_errors
    union all
    select * from price_override_errors
    union all
    select * from discount_errors
    union all
    select * from credit_grant_errors
    union all
    select * from rate_card_errors
    union all
    select * from currency_errors
    union all
    select * from credit_note_errors
    union all
    select * from usage_alert_errors
    union all
    select * from customer_errors
    union all
    select * from tax_rate_errors
    union all
    select * from billing_threshold_errors

)

select * from final
