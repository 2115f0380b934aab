-- The floor on Postgres: the work of bench/floor_duckdb.sql's full build (see there for the semantics and
-- what is not handled) in hand-written Postgres SQL. Only the full build is measured on Postgres.
-- Sections start with "-- @section NAME"; statements end with ";" at the end of a line.
-- Placeholders: {as_of} (timestamp literal). bench/floor.py loads the seed CSVs into fl.seed_* first.

-- @section reference
create schema if not exists fl;
drop table if exists fl.contracts;
create table fl.contracts as
select
    contract_id,
    customer_id,
    rate_card_id,
    cast(starts_at as timestamp) as starts_at,
    cast(nullif(ends_at, '') as timestamp) as ends_at
from fl.seed_contracts;
analyze fl.contracts;
drop table if exists fl.prices;
create table fl.prices as
select
    price_id,
    rate_card_id,
    product_id,
    charge_type,
    nullif(metric_id, '') as metric_id,
    pricing_model,
    cast(nullif(unit_price, '') as numeric(38, 10)) as unit_price,
    cast(nullif(flat_amount, '') as numeric(38, 10)) as flat_amount,
    cast(nullif(package_size, '') as numeric(38, 10)) as package_size,
    coalesce(nullif(package_rounding, ''), 'up') as package_rounding,
    coalesce(cast(nullif(free_units, '') as numeric(38, 10)), 0) as free_units,
    cast(nullif(dimensions, '') as jsonb) ->> 'model' as dim_model,
    case when cast(nullif(dimensions, '') as jsonb) ->> 'model' is null then 0 else 1 end as specificity
from fl.seed_prices
where nullif(contract_id, '') is null;
analyze fl.prices;
drop table if exists fl.tiers;
create table fl.tiers as
select
    price_id,
    cast(tier as integer) as tier,
    coalesce(lag(cast(nullif(up_to, '') as numeric(38, 10))) over (partition by price_id order by cast(tier as integer)), 0)
        as lower_bound,
    cast(nullif(up_to, '') as numeric(38, 10)) as up_to,
    coalesce(cast(nullif(unit_price, '') as numeric(38, 10)), 0) as unit_price,
    coalesce(cast(nullif(flat_fee, '') as numeric(38, 10)), 0) as flat_fee
from fl.seed_price_tiers;
analyze fl.tiers;
create table if not exists fl.state (watermark timestamp);
drop table if exists fl.billing_periods;
create table fl.billing_periods as
select
    c.contract_id,
    c.rate_card_id,
    cast(t.period_start as date) as period_start
from fl.contracts as c
cross join lateral generate_series(date_trunc('month', c.starts_at), {as_of}, interval '1 month') as t (period_start)
where c.ends_at is null or t.period_start < c.ends_at;
analyze fl.billing_periods;

-- @section full
drop table if exists fl.accepted_events;
create table fl.accepted_events as
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
        r.ctid as rid,
        row_number() over (
            partition by r.event_id
            order by
                r.ingested_at,
                md5(
                    coalesce('v' || r.event_id, 'n') || '|' || coalesce('v' || r.customer_id, 'n') || '|'
                    || coalesce('v' || r.event_type, 'n') || '|' || coalesce('v' || r.occurred_at, 'n') || '|'
                    || coalesce('v' || r.properties, 'n')
                ),
                r.ctid
        ) as copy_rank
    from raw.usage_events as r
    where r.ingested_at <= {as_of} and r.event_id in (select event_id from dup_ids)
),
later_copies as (
    select rid from ranked_copies where copy_rank > 1
),
parsed as (
    select
        r.event_id,
        r.customer_id,
        r.event_type,
        r.ingested_at,
        cast(r.occurred_at as timestamptz) at time zone 'UTC' as occurred_at,
        cast(r.properties as jsonb) as p
    from raw.usage_events as r
    where
        r.ingested_at <= {as_of}
        and not exists (select 1 from later_copies as l where l.rid = r.ctid)
)
select
    parsed.event_id,
    contracts.contract_id,
    parsed.occurred_at,
    parsed.ingested_at,
    case parsed.event_type
        when 'tokens' then case when p ->> 'direction' in ('input', 'output') then (p ->> 'direction') || '_tokens' end
        when 'api_request' then 'api_requests'
        when 'storage_snapshot' then 'storage_gb'
        when 'seat_count' then 'seats'
    end as metric_id,
    case when parsed.event_type = 'tokens' then p ->> 'model' end as model,
    cast(case parsed.event_type
        when 'tokens' then p ->> 'tokens'
        when 'storage_snapshot' then p ->> 'gb'
        when 'seat_count' then p ->> 'seats'
    end as numeric(38, 10)) as value,
    case when parsed.event_type = 'api_request' then p ->> 'user_id' end as user_id
from parsed
inner join fl.contracts as contracts
    on
        parsed.customer_id = contracts.customer_id
        and parsed.occurred_at >= contracts.starts_at
        and (contracts.ends_at is null or parsed.occurred_at < contracts.ends_at);
analyze fl.accepted_events;
drop table if exists fl.daily_usage;
create table fl.daily_usage as
with
totals as (
    select
        contract_id,
        cast(occurred_at as date) as usage_day,
        metric_id,
        model,
        count(*) as event_count,
        sum(value) as value_sum,
        max(value) as value_max
    from fl.accepted_events
    where metric_id is not null
    group by contract_id, cast(occurred_at as date), metric_id, model
),
latest as (
    select distinct on (contract_id, cast(occurred_at as date))
        contract_id,
        cast(occurred_at as date) as usage_day,
        occurred_at as latest_at,
        event_id as latest_event_id,
        value as latest_value
    from fl.accepted_events
    where metric_id = 'seats'
    order by contract_id, cast(occurred_at as date), occurred_at desc, event_id desc
)
select totals.*, latest.latest_at, latest.latest_event_id, latest.latest_value
from totals
left join latest
    on totals.metric_id = 'seats' and totals.contract_id = latest.contract_id and totals.usage_day = latest.usage_day;
analyze fl.daily_usage;
drop table if exists fl.period_users;
create table fl.period_users as
select distinct
    contract_id,
    cast(date_trunc('month', occurred_at) as date) as period_start,
    user_id
from fl.accepted_events
where metric_id = 'api_requests';
analyze fl.period_users;
drop table if exists fl.rate_periods;
create table fl.rate_periods as select distinct period_start from fl.billing_periods;
analyze fl.rate_periods;
drop table if exists fl.invoice_lines;
create table fl.invoice_lines (
    contract_id text, period_start date, line_type text, product_id text, price_id text,
    model text, quantity numeric(38, 10), amount numeric(38, 10)
);
delete from fl.state;
insert into fl.state values ({as_of});

-- @section rate
drop table if exists usage_groups;
create temp table usage_groups as
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
seat_latest as (
    select distinct on (contract_id, period_start)
        contract_id, period_start, latest_value
    from daily
    where metric_id = 'seats'
    order by contract_id, period_start, latest_at desc, latest_event_id desc
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
            else sum(value_sum)
        end as numeric(38, 10)) as quantity
    from daily
    where metric_id <> 'seats'
    group by contract_id, period_start, metric_id, model
    union all
    select contract_id, period_start, 'seats', null, cast(latest_value as numeric(38, 10)) from seat_latest
    union all
    select
        contract_id,
        period_start,
        'active_users' as metric_id,
        null as model,
        cast(count(*) as numeric(38, 10)) as quantity
    from fl.period_users
    where period_start in (select period_start from fl.rate_periods)
    group by contract_id, period_start
),
seat_history as (
    select distinct on (p.contract_id, p.period_start)
        p.contract_id,
        p.period_start,
        d.latest_value as quantity
    from periods as p
    inner join fl.daily_usage as d
        on d.contract_id = p.contract_id and d.metric_id = 'seats' and d.usage_day < p.period_start
    order by p.contract_id, p.period_start, d.latest_at desc, d.latest_event_id desc
),
carried as (
    select s.contract_id, s.period_start, 'seats' as metric_id, null as model, cast(s.quantity as numeric(38, 10))
    from seat_history as s
    where not exists (
        select 1 from event_groups as e
        where e.contract_id = s.contract_id and e.period_start = s.period_start and e.metric_id = 'seats'
    )
)
select * from event_groups
union all
select * from carried;
analyze usage_groups;
drop table if exists rated_lines;
create temp table rated_lines as
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
    select p.contract_id, p.period_start, null as model, cast(0 as numeric(38, 10)) as quantity, pr.price_id, pr.product_id
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
    group by priced.contract_id, priced.period_start, priced.price_id, priced.model
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
            (case priced.package_rounding
                when 'down' then div(greatest(priced.quantity - priced.free_units, 0), priced.package_size)
                else ceil(greatest(priced.quantity - priced.free_units, 0) / priced.package_size)
            end) * priced.unit_price
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
    cast(1 as numeric(38, 10)) as quantity,
    round(pr.flat_amount, 2) as amount
from periods as p
inner join fl.prices as pr on pr.charge_type = 'recurring' and pr.rate_card_id = p.rate_card_id;
delete from fl.invoice_lines where period_start in (select period_start from fl.rate_periods);
insert into fl.invoice_lines select * from rated_lines;
