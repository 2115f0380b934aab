{# contract §3 defaults: monthly periods anchored on the calendar. #}
with

source as (

    select * from {{ ref('contracts') }}

),

final as (

    select
        contract_id,
        customer_id,
        rate_card_id,
        starts_at,
        ends_at,
        coalesce(nullif(lower(trim(billing_period)), ''), 'monthly') as billing_period,
        coalesce(nullif(lower(trim(billing_anchor)), ''), 'calendar') as billing_anchor,
        upper(trim(currency)) as currency,
        minimum_commitment,
        payment_terms_days
    from source

)

select * from final
