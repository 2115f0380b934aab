{#
  Access on Postgres (SPEC 6.4, decision 53). Four NOLOGIN group roles; people and services log in as
  their own users and are granted membership in one of them.

    billing_loader       inserts into the raw tables (and keeps the Kafka consumer's offsets); reads nothing else
    billing_transformer  runs dbt: reads raw, owns the schemas and relations dbt builds
    billing_reader       reads the marts (dbt `grants:` on every mart, dbt_project.yml)
    billing_customer     reads the customer_portal views only, which show the rows of the customer
                         named by the session setting billing.customer_id

  Grants on relations live in dbt_project.yml (`grants:`), so every rebuild re-applies them. What dbt's
  `grants:` cannot express (roles, schema usage, the raw tables the loader creates) lives here.
  Every statement is safe to repeat; roles are cluster-wide, so creating them must also be safe while
  other databases of the same server run the same statements.
#}

{#- The roles, created if missing. Two sessions racing on one name: the loser of the race sees either
    duplicate_object (the role was committed before its check) or unique_violation (both passed the
    check, the catalog's unique index decides); both mean "it exists now". -#}
{% macro billing_roles_sql() -%}
    do $$
    declare
        role_name text;
    begin
        foreach role_name in array array['billing_loader', 'billing_transformer', 'billing_reader', 'billing_customer'] loop
            if not exists (select from pg_catalog.pg_roles where rolname = role_name) then
                begin
                    execute format('create role %I nologin', role_name);
                exception when duplicate_object or unique_violation then
                    null;
                end;
            end if;
        end loop;
    end
    $$
{%- endmacro %}

{#- on-run-start: a Postgres build grants to these roles, so they must exist first. A user without
    CREATEROLE (billing_transformer itself) passes when an admin has created them already. -#}
{% macro ensure_billing_roles() -%}
    {{ return(adapter.dispatch('ensure_billing_roles', 'warehouse_billing')()) }}
{%- endmacro %}

{% macro default__ensure_billing_roles() -%}
    {#- nothing to run: dbt skips a hook that renders empty -#}
{%- endmacro %}

{% macro postgres__ensure_billing_roles() -%}
    {{ billing_roles_sql() }}
{%- endmacro %}

{#
  `dbt run-operation create_billing_roles`, once per database, as a user who may create roles (and
  again after the Kafka consumer first creates its tables). Postgres only; a message elsewhere.
#}
{% macro create_billing_roles() -%}
    {{ return(adapter.dispatch('create_billing_roles', 'warehouse_billing')()) }}
{%- endmacro %}

{% macro default__create_billing_roles() -%}
    {{ log("create_billing_roles: roles and grants are managed on Postgres only; nothing to do on "
           ~ target.type ~ " (see README, Access on Postgres)", info=true) }}
{%- endmacro %}

{% macro postgres__create_billing_roles() -%}
    {%- set database = adapter.quote(target.database) -%}
    {%- set raw_schema = var('raw_schema') -%}
    {%- set statements = [
        billing_roles_sql(),
        'grant connect on database ' ~ database ~ ' to billing_loader, billing_transformer, billing_reader, billing_customer',
        'grant create on database ' ~ database ~ ' to billing_transformer',
        'create schema if not exists ' ~ raw_schema,
        'grant usage on schema ' ~ raw_schema ~ ' to billing_loader, billing_transformer',
        'grant insert on all tables in schema ' ~ raw_schema ~ ' to billing_loader',
        'grant select on all tables in schema ' ~ raw_schema ~ ' to billing_transformer',
        'alter default privileges in schema ' ~ raw_schema ~ ' grant insert on tables to billing_loader',
        'alter default privileges in schema ' ~ raw_schema ~ ' grant select on tables to billing_transformer',
        kafka_offsets_grant_sql(raw_schema),
    ] -%}
    {%- for statement in statements -%}
        {%- do run_query(statement) -%}
    {%- endfor -%}
    {%- do run_query('commit') -%}
    {{ log("create_billing_roles: roles billing_loader, billing_transformer, billing_reader, billing_customer exist; grants on database "
           ~ target.database ~ " and schema " ~ raw_schema ~ " applied", info=true) }}
{%- endmacro %}

{#- The Kafka consumer resumes from the offsets the warehouse holds (decision 51): it reads them and
    locks and moves them forward (select ... for update, update). Offsets are positions in a topic, not
    usage, so the loader may read this one table. -#}
{% macro kafka_offsets_grant_sql(raw_schema) -%}
    do $$
    begin
        if to_regclass('{{ raw_schema }}.usage_kafka_offsets') is not null then
            grant select, update on {{ raw_schema }}.usage_kafka_offsets to billing_loader;
        end if;
    end
    $$
{%- endmacro %}

{#
  on-run-end: usage on the schemas dbt built, for the roles that read them. Only where it is missing:
  two sessions granting on one schema at once fail with "tuple concurrently updated".
#}
{% macro grant_schema_access() -%}
    {{ return(adapter.dispatch('grant_schema_access', 'warehouse_billing')()) }}
{%- endmacro %}

{% macro default__grant_schema_access() -%}
    {#- nothing to run: dbt skips a hook that renders empty -#}
{%- endmacro %}

{% macro postgres__grant_schema_access() -%}
    {%- set grants = {target.schema: 'billing_reader', generate_schema_name('customer_portal', none): 'billing_customer'} -%}
    do $$
    begin
    {%- for schema_name, role_name in grants.items() %}
        if exists (select from pg_catalog.pg_namespace where nspname = '{{ schema_name }}')
            and not has_schema_privilege('{{ role_name }}', '{{ schema_name }}', 'USAGE') then
            grant usage on schema {{ adapter.quote(schema_name) }} to {{ role_name }};
        end if;
    {%- endfor %}
    end
    $$
{%- endmacro %}

{#
  The customer named by the session, or null: never "every customer". On Postgres the setting
  billing.customer_id (`set billing.customer_id = 'cus_a'`; null when never set, '' after a reset);
  on DuckDB the variable billing_customer_id (`set variable billing_customer_id = 'cus_a'`), for the
  demo. Elsewhere (Spark) null: the customer views are empty there.
#}
{% macro session_customer_id() -%}
    {{ return(adapter.dispatch('session_customer_id', 'warehouse_billing')()) }}
{%- endmacro %}

{% macro default__session_customer_id() -%}
    cast(null as {{ dbt.type_string() }})
{%- endmacro %}

{% macro postgres__session_customer_id() -%}
    nullif(current_setting('billing.customer_id', true), '')
{%- endmacro %}

{% macro duckdb__session_customer_id() -%}
    nullif(cast(getvariable('billing_customer_id') as varchar), '')
{%- endmacro %}

{#
  post-hook of the customer views: a security barrier, so that no function of the caller's query
  (one that raises a notice, say) runs on rows before the view's customer filter has removed them.
  The view keeps its owner's privileges (not security_invoker): billing_customer reads it without any
  grant on the marts beneath.
#}
{% macro mark_security_barrier() -%}
    {{ return(adapter.dispatch('mark_security_barrier', 'warehouse_billing')()) }}
{%- endmacro %}

{% macro default__mark_security_barrier() -%}
    {#- nothing to run: dbt skips a hook that renders empty -#}
{%- endmacro %}

{% macro postgres__mark_security_barrier() -%}
    alter view {{ this }} set (security_barrier = true)
{%- endmacro %}
