{{ config(materialized='view') }}
{#
  Problems in the credit_notes seed, one row per problem. A credit note whose invoice_number is not
  published yet is not a problem: it waits, and the checks that need the invoice (its currency and
  total_due) run once it is published. A credit note may not take the invoice below zero: the amounts
  of the invoice's credit notes, in issue order (issued_at, credit_note_id), may add up to at most its
  total_due; the first one beyond is reported, and so is every later one.
#}
with

credit_notes as (

    select * from {{ ref('stg_seed__credit_notes') }}

),

currencies as (

    select * from {{ ref('stg_seed__currencies') }}

),

published_invoices as (

    {{ published_invoice_totals_or_empty() }}

),

duplicate_id as (

    select
        'credit_notes' as seed_name,
        credit_note_id as row_key,
        'credit_note_id appears ' || cast(count(*) as {{ dbt.type_string() }}) || ' times' as problem
    from credit_notes
    group by credit_note_id
    having count(*) > 1

),

invalid_amount as (

    select
        'credit_notes' as seed_name,
        credit_note_id as row_key,
        'amount must be empty (the whole invoice) or more than 0' as problem
    from credit_notes
    where amount <= 0

),

missing_reason as (

    select
        'credit_notes' as seed_name,
        credit_note_id as row_key,
        'reason must be set' as problem
    from credit_notes
    where reason is null

),

missing_approver as (

    select
        'credit_notes' as seed_name,
        credit_note_id as row_key,
        'approved_by must be set' as problem
    from credit_notes
    where approved_by is null

),

missing_issued_at as (

    select
        'credit_notes' as seed_name,
        credit_note_id as row_key,
        'issued_at must be set' as problem
    from credit_notes
    where issued_at is null

),

missing_invoice_number as (

    select
        'credit_notes' as seed_name,
        credit_note_id as row_key,
        'invoice_number must be set' as problem
    from credit_notes
    where invoice_number is null

),

{# credit notes of published invoices, with the amount they credit and what earlier ones credited #}
resolved as (

    select
        credit_notes.credit_note_id,
        credit_notes.amount as given_amount,
        coalesce(credit_notes.amount, published_invoices.total_due) as credited_amount,
        published_invoices.total_due,
        published_invoices.currency,
        sum(coalesce(credit_notes.amount, published_invoices.total_due)) over (
            partition by credit_notes.invoice_number
            order by credit_notes.issued_at, credit_notes.credit_note_id
            rows between unbounded preceding and current row
        ) as credited_so_far
    from credit_notes
    inner join published_invoices
        on credit_notes.invoice_number = published_invoices.invoice_number

),

nothing_to_credit as (

    select
        'credit_notes' as seed_name,
        credit_note_id as row_key,
        'amount is empty (the whole invoice) but the invoice total_due is 0' as problem
    from resolved
    where given_amount is null and total_due <= 0

),

more_than_the_invoice as (

    select
        'credit_notes' as seed_name,
        credit_note_id as row_key,
        'credits ' || cast(credited_so_far as {{ dbt.type_string() }})
        || ' in all on its invoice (with earlier credit notes), more than its total_due '
        || cast(total_due as {{ dbt.type_string() }}) as problem
    from resolved
    where credited_so_far > total_due

),

amount_finer_than_minor_units as (

    select
        'credit_notes' as seed_name,
        resolved.credit_note_id as row_key,
        'amount must be a whole number of ' || currencies.currency || ' minor units ('
        || cast(currencies.minor_units as {{ dbt.type_string() }}) || ' decimal places)' as problem
    from resolved
    inner join currencies
        on resolved.currency = currencies.currency
    where resolved.given_amount <> {{ round_to_minor_units('resolved.given_amount', 'currencies.minor_units') }}

),

final as (

    select * from duplicate_id
    union all
    select * from invalid_amount
    union all
    select * from missing_reason
    union all
    select * from missing_approver
    union all
    select * from missing_issued_at
    union all
    select * from missing_invoice_number
    union all
    select * from nothing_to_credit
    union all
    select * from more_than_the_invoice
    union all
    select * from amount_finer_than_minor_units

)

select * from final
