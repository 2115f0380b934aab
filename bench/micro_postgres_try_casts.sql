-- Micro-benchmark behind decision 35: the Postgres try-cast helpers on 1M rows of bench-like
-- properties, old against new. Run: psql -h 127.0.0.1 -U postgres -d postgres -f bench/micro_postgres_try_casts.sql
-- (it creates and drops the schema micro).
\timing on
create schema if not exists micro;
create or replace function micro.try_jsonb(value text) returns jsonb language plpgsql immutable as $fn$
begin return value::jsonb; exception when others then return null; end $fn$;
create or replace function micro.try_json_object(value text) returns jsonb language plpgsql immutable as $fn$
declare parsed jsonb; begin parsed := value::jsonb; return case when jsonb_typeof(parsed) = 'object' then parsed end;
exception when others then return null; end $fn$;
create or replace function micro.try_decimal(value text) returns numeric(38, 10) language plpgsql immutable as $fn$
begin return value::numeric(38, 10); exception when others then return null; end $fn$;
drop table if exists micro.rows;
create table micro.rows as select '{"tokens": ' || (i % 4000) || ', "model": "large", "direction": "input"}' as props from generate_series(1, 1000000) i;
\echo old: two try_jsonb calls
select count(*) from (select case when jsonb_typeof(micro.try_jsonb(props)) = 'object' then micro.try_jsonb(props) end as p from micro.rows) s where p is not null;
\echo new: one try_json_object call (kept)
select count(*) from (select micro.try_json_object(props) as p from micro.rows) s where p is not null;
\echo old decimal: function per value
select sum(v) from (select case when jsonb_typeof(props::jsonb -> 'tokens') = 'number' then micro.try_decimal(props::jsonb ->> 'tokens') end v from micro.rows) s;
\echo regex then cast (measured slower, not kept)
select sum(v) from (select case when jsonb_typeof(props::jsonb -> 'tokens') = 'number' and (props::jsonb ->> 'tokens') ~ '^-?[0-9]{1,28}(\.[0-9]+)?$' then cast(props::jsonb ->> 'tokens' as numeric(38,10)) when jsonb_typeof(props::jsonb -> 'tokens') = 'number' then micro.try_decimal(props::jsonb ->> 'tokens') end v from micro.rows) s;
drop schema micro cascade;
