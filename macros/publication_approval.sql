{#
  The approval record between the publication gate and the published models (SPEC §6.1).

  The gated Dagster step (orchestration.publication), once every blocking check of its run has passed,
  calls `dbt run-operation record_publication_approval` with an approval id (its run id): one row per
  invoice the gate approves, every ready invoice not yet published and not held (invoice_holds). It then runs the published models
  with the var `publication_approval_id`, and they append only the invoices approved under that id.
  A run with `publish: true` and no approval id, or an id that approved nothing, appends nothing and
  says so in dbt's log: publication cannot be reached around the gate by a bare dbt command.
#}

{% macro publication_approvals_relation() -%}
    {# Spark has no database level: its schema is the database #}
    {{ return(api.Relation.create(
        database=(target.database if target.database is defined else none),
        schema=target.schema,
        identifier='publication_approvals'
    )) }}
{%- endmacro %}

{# An approval id is a Dagster run id or another token: letters, digits, '-' and '_' only. #}
{% macro checked_approval_id(approval_id) -%}
    {%- if approval_id is none or not modules.re.fullmatch('[A-Za-z0-9_-]{1,64}', approval_id | string) -%}
        {{ exceptions.raise_compiler_error(
            "publication_approval_id must be 1 to 64 letters, digits, '-' or '_'; got " ~ (approval_id | string)
        ) }}
    {%- endif -%}
    {{ return(approval_id | string) }}
{%- endmacro %}

{% macro create_publication_approvals_table() -%}
    {{ return(adapter.dispatch('create_publication_approvals_table', 'warehouse_billing')()) }}
{%- endmacro %}

{% macro default__create_publication_approvals_table() -%}
    create table if not exists {{ publication_approvals_relation() }} (
        approval_id {{ dbt.type_string() }},
        invoice_id {{ dbt.type_string() }},
        approved_by {{ dbt.type_string() }},
        as_of {{ dbt.type_timestamp() }}
    )
{%- endmacro %}

{% macro spark__create_publication_approvals_table() -%}
    create table if not exists {{ publication_approvals_relation() }} (
        approval_id string,
        invoice_id string,
        approved_by string,
        as_of timestamp
    ) using parquet
{%- endmacro %}

{#
  Run by the gated step only: approve every ready invoice that is not published yet and not held.
  (`dbt run-operation record_publication_approval --args '{approval_id: ..., approved_by: ...}'
  --vars '{as_of: ...}'`)
#}
{% macro record_publication_approval(approval_id, approved_by='publication gate') -%}
    {%- set approval_id = checked_approval_id(approval_id) -%}
    {%- do run_query(create_publication_approvals_table()) -%}
    {%- set published = published_relation('published_invoices') -%}
    {%- set insert_sql -%}
        insert into {{ publication_approvals_relation() }} (approval_id, invoice_id, approved_by, as_of)
        select
            '{{ approval_id }}',
            invoices.invoice_id,
            '{{ approved_by | replace("'", "''") }}',
            {{ as_of() }}
        from {{ ref('invoices') }} as invoices
        where
            invoices.status = 'ready'
            {% if published is not none -%}
            and not exists (
                select 1 from {{ published }} as published
                where published.invoice_id = invoices.invoice_id
            )
            {%- endif %}
            and not exists (
                select 1 from {{ ref('invoice_holds') }} as holds
                where holds.invoice_id = invoices.invoice_id
            )
            and not exists (
                select 1 from {{ publication_approvals_relation() }} as earlier
                where earlier.approval_id = '{{ approval_id }}' and earlier.invoice_id = invoices.invoice_id
            )
    {%- endset -%}
    {%- do run_query(insert_sql) -%}
    {%- if target.type != 'spark' -%}
        {%- do adapter.commit() -%}
    {%- endif -%}
    {%- set counted = run_query(
        "select count(*) from " ~ publication_approvals_relation() ~ " where approval_id = '" ~ approval_id ~ "'"
    ) -%}
    {{ log("publication approval " ~ approval_id ~ ": " ~ counted.columns[0].values()[0]
           ~ " ready invoice(s) approved for publication", info=true) }}
{%- endmacro %}

{#
  The condition a published model puts on the invoices it appends: approved under this run's
  publication_approval_id at this run's as_of. Without publish, or without an approval, the condition
  is false and the log says why.
#}
{% macro approved_for_publication(invoice_id_column) -%}
    {#- invoice_id_column none: any approval recorded under this id at this as_of (credit notes) -#}
    {%- if not run_var('publish', false) -%}
        {{ return('false') }}
    {%- endif -%}
    {%- set approval_id = run_var('publication_approval_id', none) -%}
    {%- if approval_id is none or approval_id == '' -%}
        {%- if execute -%}
            {{ log("publish is true but no publication_approval_id was given: " ~ this.identifier
                   ~ " appends nothing. Invoices are published by the Dagster invoice publication job, "
                   ~ "whose gated step approves them after every blocking check passed.", info=true) }}
        {%- endif -%}
        {{ return('false') }}
    {%- endif -%}
    {%- set approval_id = checked_approval_id(approval_id) -%}
    {%- if execute and adapter.get_relation(
            database=target.database, schema=target.schema, identifier='publication_approvals') is none -%}
        {{ log("publication approval " ~ approval_id ~ " not found (no approval was ever recorded): "
               ~ this.identifier ~ " appends nothing.", info=true) }}
        {{ return('false') }}
    {%- endif -%}
    {%- set condition -%}
        exists (
            select 1 from {{ publication_approvals_relation() }} as approvals
            where
                approvals.approval_id = '{{ approval_id }}'
                {% if invoice_id_column is not none -%}
                and approvals.invoice_id = {{ invoice_id_column }}
                {% endif -%}
                and approvals.as_of = {{ as_of() }}
        )
    {%- endset -%}
    {{ return(condition) }}
{%- endmacro %}

{#
  The condition a published model puts on rows that follow published invoices rather than being
  invoices themselves (published_credit_notes): this run publishes under an approval that the gated
  step recorded at this run's as_of. Without publish, without an approval id, or with an id that
  approved nothing at this as_of, the condition is false (a bare `dbt run --vars '{publish: true}'`
  appends nothing), as approved_for_publication.
#}
{% macro publication_approved_in_this_run() -%}
    {{ return(approved_for_publication(none)) }}
{%- endmacro %}

{# Published invoices with their number, customer, currency and total, or an empty set (credit notes). #}
{% macro published_invoice_totals_or_empty() -%}
    {%- set relation = published_relation('published_invoices') -%}
    {%- if relation is not none -%}
        select
            invoice_id,
            invoice_number,
            customer_id,
            currency,
            period_start,
            total_due
        from {{ relation }}
    {%- else -%}
        select
            cast(null as {{ dbt.type_string() }}) as invoice_id,
            cast(null as bigint) as invoice_number,
            cast(null as {{ dbt.type_string() }}) as customer_id,
            cast(null as {{ dbt.type_string() }}) as currency,
            cast(null as {{ dbt.type_timestamp() }}) as period_start,
            cast(null as {{ money_type() }}) as total_due
        where 1 = 0
    {%- endif -%}
{%- endmacro %}
