{# amount empty: the whole invoice's total_due (resolved once the invoice is published, int_credit_note_lines). #}
with

source as (

    select * from {{ ref('credit_notes') }}

),

final as (

    select
        credit_note_id,
        invoice_number,
        amount,
        nullif(trim(reason), '') as reason,
        nullif(trim(approved_by), '') as approved_by,
        issued_at
    from source

)

select * from final
