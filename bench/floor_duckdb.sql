-- The floor: hand-written DuckDB SQL doing the work of a full build (and of one incremental step) on the
-- bench data, with the project's billing semantics for what the data contain:
--   dedupe by event_id across all history (first by ingested_at, then the project's payload hash);
--   all six metrics (sum, count, unique_count over the period, max, latest with carry-forward);
--   price rows of the contract's rate card matched by the `model` dimension (most specific wins);
--   unit, graduated, volume and package prices, zero-usage lines on the fallback row, the flat
--   recurring fee; every line rounded to cents, half away from zero.
-- Not handled (the bench data have none): invalid rows/quarantine, contract-specific prices, overrides,
-- discounts, commitments, credits, percentage prices, proration, non-monthly periods, other currencies.
--
-- Sections start with "-- @section NAME"; statements end with ";" at the end of a line.
-- Placeholders: {as_of} (timestamp literal), {seeds} (directory of the bench's seed CSVs).

-- @section reference
create schema if not exists fl;
create or replace table fl.contracts as
select
    contract_id,
    customer_id,
    rate_card_id,
    cast(starts_at as timestamp) as starts_at,
    cast(nullif(ends_at, '') as timestamp) as ends_at
from read_csv('{seeds}/contracts.csv', header = true, all_varchar = true);
create or replace table fl.prices as
select
    price_id,
    rate_card_id,
    product_id,
    charge_type,
    nullif(metric_id, '') as metric_id,
    pricing_model,
    cast(nullif(unit_price, '') as decimal(38, 10)) as unit_price,
    cast(nullif(flat_amount, '') as decimal(38, 10)) as flat_amount,
    cast(nullif(package_size, '') as decimal(38, 10)) as package_size,
    coalesce(nullif(package_rounding, ''), 'up') as package_rounding,
    coalesce(cast(nullif(free_units, '') as decimal(38, 10)), 0) as free_units,
    json_extract_string(nullif(dimensions, ''), '$.model') as dim_model,
    case when json_extract_string(nullif(dimensions, ''), '$.model') is null then 0 else 1 end as specificity
from read_csv('{seeds}/prices.csv', header = true, all_varchar = true)
where nullif(contract_id, '') is null;
create or replace table fl.tiers as
select
    price_id,
    cast(tier as integer) as tier,
    coalesce(lag(cast(nullif(up_to, '') as decimal(38, 10))) over (partition by price_id order by cast(tier as integer)), 0)
        as lower_bound,
    cast(nullif(up_to, '') as decimal(38, 10)) as up_to,
    coalesce(cast(nullif(unit_price, '') as decimal(38, 10)), 0) as unit_price,
    coalesce(cast(nullif(flat_fee, '') as decimal(38, 10)), 0) as flat_fee
from read_csv('{seeds}/price_tiers.csv', header = true, all_varchar = true);
create table if not exists fl.state (watermark timestamp);
create or replace table fl.billing_periods as
select
    contract_id,
    rate_card_id,
    cast(period_start as date) as period_start
from fl.contracts,
    unnest(generate_series(date_trunc('month', starts_at), {as_of}, interval 1 month)) as t (period_start)
where ends_at is null or period_start < ends_at;

-- @section full
-- 1. deduplicated, typed events: only the ids that occur more than once are ranked, and only their
--    later copies are anti-joined away
create or replace table fl.accepted_events as
with
dup_ids as (
    select event_id
    from raw.usage_events
    where ingested_at <= {as_of}
    group by event_id
    having count(*) > 1
),
ranked_copies as (
    select
        r.rowid as rid,
        row_number() over (
            partition by r.event_id
            order by
                r.ingested_at,
                md5(
                    coalesce('v' || r.event_id, 'n') || '|' || coalesce('v' || r.customer_id, 'n') || '|'
                    || coalesce('v' || r.event_type, 'n') || '|' || coalesce('v' || r.occurred_at, 'n') || '|'
                    || coalesce('v' || r.properties, 'n')
                ),
                r.rowid
        ) as copy_rank
    from raw.usage_events as r
    semi join dup_ids on r.event_id = dup_ids.event_id
    where r.ingested_at <= {as_of}
),
later_copies as (
    select rid from ranked_copies where copy_rank > 1
),
kept as (
    select r.*
    from raw.usage_events as r
    anti join later_copies on r.rowid = later_copies.rid
    where r.ingested_at <= {as_of}
),
parsed as (
    select
        event_id,
        customer_id,
        event_type,
        ingested_at,
        timezone('UTC', cast(occurred_at as timestamptz)) as occurred_at,
        json_transform(
            properties,
            '{{"tokens": "DECIMAL(38,10)", "model": "VARCHAR", "direction": "VARCHAR", "user_id": "VARCHAR", "gb": "DECIMAL(38,10)", "seats": "DECIMAL(38,10)"}}'
        ) as p
    from kept
)
select
    parsed.event_id,
    contracts.contract_id,
    parsed.occurred_at,
    parsed.ingested_at,
    case parsed.event_type
        when 'tokens' then case when p.direction in ('input', 'output') then p.direction || '_tokens' end
        when 'api_request' then 'api_requests'
        when 'storage_snapshot' then 'storage_gb'
        when 'seat_count' then 'seats'
    end as metric_id,
    case when parsed.event_type = 'tokens' then p.model end as model,
    case parsed.event_type
        when 'tokens' then p.tokens
        when 'storage_snapshot' then p.gb
        when 'seat_count' then p.seats
    end as value,
    case when parsed.event_type = 'api_request' then p.user_id end as user_id
from parsed
inner join fl.contracts as contracts
    on
        parsed.customer_id = contracts.customer_id
        and parsed.occurred_at >= contracts.starts_at
        and (contracts.ends_at is null or parsed.occurred_at < contracts.ends_at);
-- 2. daily usage per contract, metric and dimension; distinct users per contract and period
create or replace table fl.daily_usage as
select
    contract_id,
    cast(occurred_at as date) as usage_day,
    metric_id,
    model,
    count(*) as event_count,
    sum(value) as value_sum,
    max(value) as value_max,
    max(occurred_at) filter (where metric_id = 'seats') as latest_at,
    arg_max(event_id, row(occurred_at, event_id)) filter (where metric_id = 'seats') as latest_event_id,
    arg_max(value, row(occurred_at, event_id)) filter (where metric_id = 'seats') as latest_value
from fl.accepted_events
where metric_id is not null
group by all;
create or replace table fl.period_users as
select distinct
    contract_id,
    cast(date_trunc('month', occurred_at) as date) as period_start,
    user_id
from fl.accepted_events
where metric_id = 'api_requests';
create or replace table fl.rate_periods as select distinct period_start from fl.billing_periods;
create or replace table fl.invoice_lines (
    contract_id varchar, period_start date, line_type varchar, product_id varchar, price_id varchar,
    model varchar, quantity decimal(38, 10), amount decimal(38, 10)
);
delete from fl.state;
insert into fl.state values ({as_of});

-- @section incremental
-- 1. the new raw rows (raw is appended in ingested_at order: zone maps skip the history), deduplicated
--    within the batch, then against every accepted event of the history
create or replace temp table batch_kept as
with ranked as (
    select
        r.*,
        row_number() over (
            partition by r.event_id
            order by
                r.ingested_at,
                md5(
                    coalesce('v' || r.event_id, 'n') || '|' || coalesce('v' || r.customer_id, 'n') || '|'
                    || coalesce('v' || r.event_type, 'n') || '|' || coalesce('v' || r.occurred_at, 'n') || '|'
                    || coalesce('v' || r.properties, 'n')
                ),
                r.rowid
        ) as copy_rank
    from raw.usage_events as r
    where r.ingested_at > (select max(watermark) from fl.state) and r.ingested_at <= {as_of}
)
select * exclude (copy_rank) from ranked where copy_rank = 1;
create or replace temp table seen_ids as
select a.event_id
from fl.accepted_events as a
semi join batch_kept on a.event_id = batch_kept.event_id;
create or replace temp table new_events as
with kept as (
    select b.* from batch_kept as b anti join seen_ids on b.event_id = seen_ids.event_id
),
parsed as (
    select
        event_id,
        customer_id,
        event_type,
        ingested_at,
        timezone('UTC', cast(occurred_at as timestamptz)) as occurred_at,
        json_transform(
            properties,
            '{{"tokens": "DECIMAL(38,10)", "model": "VARCHAR", "direction": "VARCHAR", "user_id": "VARCHAR", "gb": "DECIMAL(38,10)", "seats": "DECIMAL(38,10)"}}'
        ) as p
    from kept
)
select
    parsed.event_id,
    contracts.contract_id,
    parsed.occurred_at,
    parsed.ingested_at,
    case parsed.event_type
        when 'tokens' then case when p.direction in ('input', 'output') then p.direction || '_tokens' end
        when 'api_request' then 'api_requests'
        when 'storage_snapshot' then 'storage_gb'
        when 'seat_count' then 'seats'
    end as metric_id,
    case when parsed.event_type = 'tokens' then p.model end as model,
    case parsed.event_type
        when 'tokens' then p.tokens
        when 'storage_snapshot' then p.gb
        when 'seat_count' then p.seats
    end as value,
    case when parsed.event_type = 'api_request' then p.user_id end as user_id
from parsed
inner join fl.contracts as contracts
    on
        parsed.customer_id = contracts.customer_id
        and parsed.occurred_at >= contracts.starts_at
        and (contracts.ends_at is null or parsed.occurred_at < contracts.ends_at);
insert into fl.accepted_events select * from new_events;
-- 2. the affected days re-aggregated from the accepted events
create or replace temp table affected_days as
select distinct cast(occurred_at as date) as usage_day from new_events where metric_id is not null;
delete from fl.daily_usage where usage_day in (select usage_day from affected_days);
insert into fl.daily_usage
select
    contract_id,
    cast(occurred_at as date) as usage_day,
    metric_id,
    model,
    count(*) as event_count,
    sum(value) as value_sum,
    max(value) as value_max,
    max(occurred_at) filter (where metric_id = 'seats') as latest_at,
    arg_max(event_id, row(occurred_at, event_id)) filter (where metric_id = 'seats') as latest_event_id,
    arg_max(value, row(occurred_at, event_id)) filter (where metric_id = 'seats') as latest_value
from fl.accepted_events
where
    metric_id is not null
    and occurred_at >= (select min(usage_day) from affected_days)
    and occurred_at < (select max(usage_day) from affected_days) + interval 1 day
    and cast(occurred_at as date) in (select usage_day from affected_days)
group by all;
insert into fl.period_users
select distinct
    n.contract_id,
    cast(date_trunc('month', n.occurred_at) as date) as period_start,
    n.user_id
from new_events as n
where
    n.metric_id = 'api_requests'
    and not exists (
        select 1 from fl.period_users as pu
        where
            pu.contract_id = n.contract_id
            and pu.period_start = cast(date_trunc('month', n.occurred_at) as date)
            and pu.user_id = n.user_id
    );
-- 3. the periods to rate again: those of the affected days, and periods opened since the last run
create or replace table fl.rate_periods as
select distinct cast(date_trunc('month', usage_day) as date) as period_start from affected_days
union
select distinct period_start from fl.billing_periods
where period_start not in (select distinct period_start from fl.invoice_lines);
delete from fl.state;
insert into fl.state values ({as_of});

-- @section rate
-- Rate every contract's periods listed in fl.rate_periods (replacing their lines).
create or replace temp table usage_groups as
with
periods as (
    select bp.contract_id, bp.rate_card_id, bp.period_start
    from fl.billing_periods as bp
    where bp.period_start in (select period_start from fl.rate_periods)
),
daily as (
    select d.*, cast(date_trunc('month', d.usage_day) as date) as period_start
    from fl.daily_usage as d
    where cast(date_trunc('month', d.usage_day) as date) in (select period_start from fl.rate_periods)
),
event_groups as (
    select
        contract_id,
        period_start,
        metric_id,
        model,
        cast(case metric_id
            when 'api_requests' then sum(event_count)
            when 'storage_gb' then max(value_max)
            when 'seats' then arg_max(latest_value, row(latest_at, latest_event_id))
            else sum(value_sum)
        end as decimal(38, 10)) as quantity
    from daily
    group by contract_id, period_start, metric_id, model
    union all
    select
        contract_id,
        period_start,
        'active_users' as metric_id,
        null as model,
        cast(count(*) as decimal(38, 10)) as quantity
    from fl.period_users
    where period_start in (select period_start from fl.rate_periods)
    group by contract_id, period_start
),
seat_history as (
    select
        p.contract_id,
        p.period_start,
        arg_max(d.latest_value, row(d.latest_at, d.latest_event_id)) as quantity
    from periods as p
    inner join fl.daily_usage as d
        on d.contract_id = p.contract_id and d.metric_id = 'seats' and d.usage_day < p.period_start
    group by all
),
carried as (
    select s.contract_id, s.period_start, 'seats' as metric_id, null as model, cast(s.quantity as decimal(38, 10))
    from seat_history as s
    where not exists (
        select 1 from event_groups as e
        where e.contract_id = s.contract_id and e.period_start = s.period_start and e.metric_id = 'seats'
    )
)
select * from event_groups
union all
select * from carried;
create or replace temp table rated_lines as
with
periods as (
    select bp.contract_id, bp.rate_card_id, bp.period_start
    from fl.billing_periods as bp
    where bp.period_start in (select period_start from fl.rate_periods)
),
matched as (
    select
        g.contract_id,
        g.period_start,
        g.model,
        g.quantity,
        pr.price_id,
        pr.product_id,
        row_number() over (
            partition by g.contract_id, g.period_start, g.metric_id, g.model, pr.product_id
            order by pr.specificity desc, pr.price_id
        ) as match_rank
    from usage_groups as g
    inner join periods as p on g.contract_id = p.contract_id and g.period_start = p.period_start
    inner join fl.prices as pr
        on
            pr.charge_type = 'usage'
            and pr.rate_card_id = p.rate_card_id
            and pr.metric_id = g.metric_id
            and (pr.dim_model is null or pr.dim_model = g.model)
),
usage_lines as (
    select contract_id, period_start, model, quantity, price_id, product_id
    from matched
    where match_rank = 1
    union all
    select p.contract_id, p.period_start, null as model, cast(0 as decimal(38, 10)) as quantity, pr.price_id, pr.product_id
    from periods as p
    inner join fl.prices as pr
        on pr.charge_type = 'usage' and pr.rate_card_id = p.rate_card_id and pr.specificity = 0
    where not exists (
        select 1 from matched as m
        where
            m.match_rank = 1 and m.contract_id = p.contract_id and m.period_start = p.period_start
            and m.product_id = pr.product_id
    )
),
priced as (
    select u.*, pr.pricing_model, pr.unit_price, pr.free_units, pr.package_size, pr.package_rounding
    from usage_lines as u
    inner join fl.prices as pr on u.price_id = pr.price_id
),
graduated as (
    select
        priced.contract_id, priced.period_start, priced.price_id, priced.model,
        sum(
            t.flat_fee + t.unit_price * (least(priced.quantity, coalesce(t.up_to, priced.quantity)) - t.lower_bound)
        ) as amount
    from priced
    inner join fl.tiers as t
        on t.price_id = priced.price_id and (t.tier = 1 or priced.quantity > t.lower_bound)
    where priced.pricing_model = 'graduated'
    group by all
),
volume as (
    select
        priced.contract_id, priced.period_start, priced.price_id, priced.model,
        t.flat_fee + priced.quantity * t.unit_price as amount
    from priced
    inner join fl.tiers as t
        on
            t.price_id = priced.price_id
            and (t.tier = 1 or priced.quantity > t.lower_bound)
            and (t.up_to is null or priced.quantity <= t.up_to)
    where priced.pricing_model = 'volume'
)
select
    priced.contract_id,
    priced.period_start,
    'usage' as line_type,
    priced.product_id,
    priced.price_id,
    priced.model,
    priced.quantity,
    round(case priced.pricing_model
        when 'unit' then greatest(priced.quantity - priced.free_units, 0) * priced.unit_price
        when 'package' then
            cast(case priced.package_rounding
                when 'down' then cast(greatest(priced.quantity - priced.free_units, 0) as hugeint)
                    // cast(priced.package_size as hugeint)
                else (cast(greatest(priced.quantity - priced.free_units, 0) as hugeint)
                    + cast(priced.package_size as hugeint) - 1) // cast(priced.package_size as hugeint)
            end as decimal(38, 0)) * priced.unit_price
        when 'graduated' then graduated.amount
        when 'volume' then volume.amount
    end, 2) as amount
from priced
left join graduated
    on
        graduated.contract_id = priced.contract_id and graduated.period_start = priced.period_start
        and graduated.price_id = priced.price_id and coalesce(graduated.model, '') = coalesce(priced.model, '')
left join volume
    on
        volume.contract_id = priced.contract_id and volume.period_start = priced.period_start
        and volume.price_id = priced.price_id and coalesce(volume.model, '') = coalesce(priced.model, '')
union all
select
    p.contract_id,
    p.period_start,
    'recurring' as line_type,
    pr.product_id,
    pr.price_id,
    null as model,
    cast(1 as decimal(38, 10)) as quantity,
    round(pr.flat_amount, 2) as amount
from periods as p
inner join fl.prices as pr on pr.charge_type = 'recurring' and pr.rate_card_id = p.rate_card_id;
delete from fl.invoice_lines where period_start in (select period_start from fl.rate_periods);
insert into fl.invoice_lines select * from rated_lines;
