{{ config(meta={'dagster': {'ref': {'name': 'credit_ledger'}}}) }}
{# Every amount drawn in the ledger is exactly one credit line of the same invoice and grant, and back. #}
with

ledger as (

    select invoice_id, grant_id, drawn_amount
    from {{ ref('credit_ledger') }}
    where drawn_amount <> 0

),

credit_lines as (

    select invoice_id, grant_id, -sum(amount) as credited_amount
    from {{ ref('invoice_lines') }}
    where line_type = 'credit'
    group by invoice_id, grant_id

)

select
    coalesce(ledger.invoice_id, credit_lines.invoice_id) as invoice_id,
    coalesce(ledger.grant_id, credit_lines.grant_id) as grant_id,
    ledger.drawn_amount,
    credit_lines.credited_amount
from ledger
full outer join credit_lines
    on ledger.invoice_id = credit_lines.invoice_id and ledger.grant_id = credit_lines.grant_id
where ledger.drawn_amount is null
    or credit_lines.credited_amount is null
    or ledger.drawn_amount <> credit_lines.credited_amount
