{#
  Step 7 of contract §5.1: how much each credit grant draws on each invoice of its contract. One row
  per grant x invoice (contract x billing period x invoice kind) from the grant's first invoice on.

  Grants in force at the invoice's terms instant (starts_at < terms_at, expires_at empty or >= terms_at;
  for a period invoice terms_at is period_end, so the period's last instant) draw in order (priority,
  earliest expires_at with empty last, earliest starts_at, grant_id). A grant draws min(its balance,
  what is left of the invoice, what is left of the charges it applies to); a draw on a product-scoped
  grant uses up its products in product_id order, so a later grant on the same products sees only what
  is left. Balances carry from invoice to invoice.

  The draws depend on each other in sequence, so a recursive CTE (balances) walks the steps (invoice,
  grant) of each contract in order (invoice_sequence: by period_start, then kind_order, an opening
  invoice first), keeping one balance per account: each grant's balance, each product's and the
  invoice's remaining amount on the current invoice. Everything a step needs that
  does not depend on earlier steps is joined beforehand (step_accounts).
#}
with recursive

contract_invoices as (

    select * from {{ ref('int_contract_invoices') }}

),

grants as (

    select * from {{ ref('stg_seed__credit_grants') }}

),

grant_products as (

    select * from {{ ref('int_credit_grant_products') }}

),

charges_rated as (

    select * from {{ ref('int_charges_rated') }}

),

charge_adjustment_lines as (

    select * from {{ ref('int_charge_adjustment_lines') }}

),

threshold_lines as (

    select * from {{ ref('int_threshold_lines') }}

),

late_adjustment_lines as (

    select * from {{ ref('int_late_adjustment_lines') }}

),

invoice_adjustment_lines as (

    select * from {{ ref('int_invoice_adjustment_lines') }}

),

balance_applied_lines as (

    select * from {{ ref('int_balance_applied_lines') }}

),

credit_note_lines as (

    select * from {{ ref('int_credit_note_lines') }}

),

tax_lines as (

    select * from {{ ref('int_invoice_tax_lines') }}

),

taxable_bases as (

    select * from {{ ref('int_invoice_taxable_bases') }}
    where tax_rate_id is not null and product_id is not null

),

published_lines as (

    {{ published_invoice_lines_or_empty() }}

),

published_invoice_ids as (

    {{ published_invoice_ids_or_empty() }}

),

{# what each product and the whole invoice amount to before credits (steps 1 to 5, late adjustments, tax) #}
product_lines as (

    select
        invoice_id,
        product_id,
        amount
    from charges_rated
    union all
    select
        invoice_id,
        product_id,
        amount
    from charge_adjustment_lines
    union all
    select
        invoice_id,
        product_id,
        amount
    from threshold_lines
    union all
    {# late-event adjustments come just before credits: credits may absorb them (contract §5.1 steps 6 and 7) #}
    select
        invoice_id,
        product_id,
        amount
    from late_adjustment_lines

),

{#
  What a product-scoped grant may draw on: the product's lines and its share of the tax, its base at
  its rate rounded to minor units (SPEC 6.2: credits are drawn after tax)
#}
product_lines_with_tax as (

    select
        invoice_id,
        product_id,
        amount
    from product_lines
    union all
    select
        invoice_id,
        product_id,
        {{ round_to_minor_units('taxable_base * rate', 'minor_units') }} as amount
    from taxable_bases

),

invoice_lines_before_credits as (

    select
        invoice_id,
        amount
    from product_lines
    union all
    select
        invoice_id,
        amount
    from invoice_adjustment_lines
    union all
    {# a balance carried from an earlier invoice is drawn first, before credits (SPEC 6.1) #}
    select
        invoice_id,
        amount
    from balance_applied_lines
    union all
    {# so is a credit note on an earlier invoice (SPEC 6.1) #}
    select
        invoice_id,
        amount
    from credit_note_lines
    union all
    {# credits are drawn after tax (SPEC 6.2) #}
    select
        invoice_id,
        amount
    from tax_lines

),

{# a published invoice keeps the credits it was published with, whatever a re-rating would draw now #}
published_invoices as (

    select distinct invoice_id
    from published_invoice_ids

),

published_draws as (

    select
        invoice_id,
        grant_id,
        -sum(amount) as drawn_amount
    from published_lines
    where line_type = 'credit'
    group by invoice_id, grant_id

),

{# a grant without products applies to the whole invoice #}
grants_with_products as (

    select distinct grant_id
    from grant_products

),

grants_ranked as (

    select
        grants.*,
        row_number() over (
            partition by grants.contract_id
            order by
                grants.priority,
                case when grants.expires_at is null then 1 else 0 end,
                grants.expires_at,
                grants.starts_at,
                grants.grant_id
        ) as grant_rank,
        count(*) over (partition by grants.contract_id) as grant_count,
        grants_with_products.grant_id is null as is_whole_invoice
    from grants
    left join grants_with_products
        on grants.grant_id = grants_with_products.grant_id

),

contracts_with_grants as (

    select distinct contract_id
    from grants

),

contract_invoices_with_grants as (

    select
        contract_invoices.*,
        row_number() over (
            partition by contract_invoices.contract_id
            order by contract_invoices.period_start, contract_invoices.kind_order, contract_invoices.threshold_sequence
        ) as invoice_sequence
    from contract_invoices
    inner join contracts_with_grants
        on contract_invoices.contract_id = contracts_with_grants.contract_id

),

{# one step per billing period and grant of a contract, numbered in drawing order #}
steps as (

    select
        contract_invoices_with_grants.contract_id,
        contract_invoices_with_grants.invoice_id,
        contract_invoices_with_grants.period_start,
        contract_invoices_with_grants.period_end,
        contract_invoices_with_grants.terms_at,
        contract_invoices_with_grants.invoice_sequence,
        grants_ranked.grant_id,
        grants_ranked.grant_rank,
        grants_ranked.is_whole_invoice,
        published_invoices.invoice_id is not null as is_published,
        coalesce(published_draws.drawn_amount, 0) as published_draw,
        cast((contract_invoices_with_grants.invoice_sequence - 1) * grants_ranked.grant_count + grants_ranked.grant_rank as bigint)
            as step_number,
        coalesce(
            {{ is_in_force_at_period_end('grants_ranked.starts_at', 'grants_ranked.expires_at',
                                         'contract_invoices_with_grants.terms_at') }},
            false
        ) as is_in_force
    from contract_invoices_with_grants
    inner join grants_ranked
        on contract_invoices_with_grants.contract_id = grants_ranked.contract_id
    left join published_invoices
        on contract_invoices_with_grants.invoice_id = published_invoices.invoice_id
    left join published_draws
        on
            contract_invoices_with_grants.invoice_id = published_draws.invoice_id
            and grants_ranked.grant_id = published_draws.grant_id

),

{# every balance the walk keeps, per contract: grants, products, the invoice #}
accounts as (

    select
        contract_id,
        'grant' as account_type,
        grant_id as account_key,
        amount as opening_amount
    from grants

    union all

    select distinct
        contract_invoices_with_grants.contract_id,
        'product' as account_type,
        product_lines_with_tax.product_id as account_key,
        0 as opening_amount
    from product_lines_with_tax
    inner join contract_invoices_with_grants
        on product_lines_with_tax.invoice_id = contract_invoices_with_grants.invoice_id

    union all

    select distinct
        contract_id,
        'invoice' as account_type,
        'invoice' as account_key,
        0 as opening_amount
    from contract_invoices_with_grants

),

{# the amounts product and invoice accounts start each period with #}
period_amounts as (

    select
        invoice_id,
        'product' as account_type,
        product_id as account_key,
        sum(amount) as amount
    from product_lines_with_tax
    group by invoice_id, product_id

    union all

    select
        invoice_id,
        'invoice' as account_type,
        'invoice' as account_key,
        sum(amount) as amount
    from invoice_lines_before_credits
    group by invoice_id

),

account_keys as (

    select distinct
        contract_id,
        account_type,
        account_key
    from accounts

),

{#
  Each step's view of each account of its contract: whether the step's grant may draw on it (a
  product the grant applies to), and whether it reopens at its period amount (products and the
  invoice, on the first step of a period).
#}
step_accounts as (

    select
        steps.contract_id,
        steps.step_number,
        account_keys.account_type,
        account_keys.account_key,
        steps.grant_id as step_grant_id,
        steps.is_in_force,
        steps.is_whole_invoice,
        steps.is_published,
        steps.published_draw,
        coalesce(account_keys.account_type = 'product' and grant_products.product_id is not null, false)
            as is_in_scope,
        account_keys.account_type in ('product', 'invoice') and steps.grant_rank = 1 as reopens_at_period_amount,
        coalesce(period_amounts.amount, 0) as period_amount
    from steps
    inner join account_keys
        on steps.contract_id = account_keys.contract_id
    left join period_amounts
        on
            steps.invoice_id = period_amounts.invoice_id
            and account_keys.account_type = period_amounts.account_type
            and account_keys.account_key = period_amounts.account_key
    left join grant_products
        on
            steps.grant_id = grant_products.grant_id
            and account_keys.account_key = grant_products.product_id

),

{#
  balances: step 0 holds each account's opening balance; step n applies the draw of each contract's
  n-th step. One row per contract x step x account (macros/credit_balance_walk.sql: the walk needs
  window functions inside the recursion, which Spark does not allow, so Spark walks it differently).
#}
{{ credit_balance_walk() }},

grant_steps as (

    select
        steps.*,
        balances.balance as closing_balance,
        balances.step_draw as drawn_amount
    from steps
    inner join balances
        on
            steps.contract_id = balances.contract_id
            and steps.step_number = balances.step_number
            and balances.account_type = 'grant'
            and steps.grant_id = balances.account_key

),

final as (

    select
        grant_steps.invoice_id,
        grant_steps.contract_id,
        grant_steps.grant_id,
        grants.grant_type,
        grants.product_ids,
        grant_steps.period_start,
        grant_steps.period_end,
        grant_steps.terms_at,
        grant_steps.invoice_sequence,
        grant_steps.grant_rank,
        grant_steps.is_in_force,
        cast(grant_steps.closing_balance + grant_steps.drawn_amount as {{ exact_decimal_type() }}) as opening_balance,
        grant_steps.drawn_amount,
        grant_steps.closing_balance
    from grant_steps
    inner join grants
        on grant_steps.grant_id = grants.grant_id
    where grants.starts_at is null or grants.starts_at < grant_steps.terms_at

)

select * from final
