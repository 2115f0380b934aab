{{ config(materialized='view') }}
{#
  Problems in the usage_alerts seed, one row per problem (row_key: alert_id). A usage alert's metric
  must be a billable metric; it need not be one the contract's rate card prices, because the alert
  counts accepted usage (int_metric_quantities_to_date), priced or not. A view: int_reference_data_errors
  reads it once.
#}
with

alerts as (

    select * from {{ ref('stg_seed__usage_alerts') }}

),

contracts as (

    select * from {{ ref('stg_seed__contracts') }}

),

metrics as (

    select * from {{ ref('stg_seed__billable_metrics') }}

),

named as (

    select
        alerts.*,
        coalesce(alerts.alert_id, 'null') as row_key
    from alerts

),

duplicate_id as (

    select
        'usage_alerts' as seed_name,
        row_key,
        'alert_id appears ' || cast(count(*) as {{ dbt.type_string() }}) || ' times' as problem
    from named
    group by row_key
    having count(*) > 1

),

unknown_contract as (

    select
        'usage_alerts' as seed_name,
        row_key,
        'contract_id ' || coalesce(contract_id, 'null') || ' is not in contracts' as problem
    from named
    where
        not exists (
            select 1 from contracts
            where contracts.contract_id = named.contract_id
        )

),

unknown_alert_type as (

    select
        'usage_alerts' as seed_name,
        row_key,
        'alert_type must be spend, usage or credit_balance, got ' || coalesce(alert_type, 'null') as problem
    from named
    where alert_type is null or alert_type not in ('spend', 'usage', 'credit_balance')

),

missing_metric as (

    select
        'usage_alerts' as seed_name,
        row_key,
        'a usage alert needs a metric_id' as problem
    from named
    where alert_type = 'usage' and metric_id is null

),

unexpected_metric as (

    select
        'usage_alerts' as seed_name,
        row_key,
        'a ' || alert_type || ' alert has no metric_id, got ' || metric_id as problem
    from named
    where alert_type in ('spend', 'credit_balance') and metric_id is not null

),

unknown_metric as (

    select
        'usage_alerts' as seed_name,
        row_key,
        'metric_id ' || metric_id || ' is not in billable_metrics' as problem
    from named
    where
        metric_id is not null
        and not exists (
            select 1 from metrics
            where metrics.metric_id = named.metric_id
        )

),

threshold_not_positive as (

    select
        'usage_alerts' as seed_name,
        row_key,
        'threshold must be set and greater than 0' as problem
    from named
    where threshold is null or threshold <= 0

),

{# spend and credit balances are money of the contract's currency; a usage alert's currency, if any, too #}
missing_currency as (

    select
        'usage_alerts' as seed_name,
        row_key,
        'a ' || alert_type || ' alert needs the contract''s currency' as problem
    from named
    where alert_type in ('spend', 'credit_balance') and currency is null

),

currency_not_the_contracts as (

    select
        'usage_alerts' as seed_name,
        named.row_key,
        'currency ' || named.currency || ' differs from contract ' || contracts.contract_id
        || ' currency ' || contracts.currency as problem
    from named
    inner join contracts
        on named.contract_id = contracts.contract_id
    where named.currency is not null and named.currency <> contracts.currency

),

final as (

    select * from duplicate_id
    union all
    select * from unknown_contract
    union all
    select * from unknown_alert_type
    union all
    select * from missing_metric
    union all
    select * from unexpected_metric
    union all
    select * from unknown_metric
    union all
    select * from threshold_not_positive
    union all
    select * from missing_currency
    union all
    select * from currency_not_the_contracts

)

select * from final
