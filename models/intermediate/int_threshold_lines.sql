{#
  Progressive billing (SPEC 6.2), step 3: the lines threshold invoices add. One row per invoice x
  product x line type:
  - `threshold_usage` on threshold invoice n: the product's usage charge after terms at the step that
    issued it, less what the period's earlier threshold invoices billed for the product (products
    whose amount did not change since the previous threshold invoice have no line);
  - `threshold_billed` on the period invoice: minus what the period's threshold invoices billed for
    the product in all, so that the period invoice, which rates the whole period, bills the rest.
#}
with

product_steps as (

    select * from {{ ref('int_threshold_product_steps') }}

),

threshold_invoices as (

    select * from {{ ref('int_threshold_invoices') }}

),

{# the product's name on the period's own invoice, which bills the product for the whole period #}
product_names as (

    select
        invoice_id,
        product_id,
        max(product_name) as product_name
    from {{ ref('int_charges_rated') }}
    group by invoice_id, product_id

),

{# each product's amount after terms at each threshold invoice: its last step up to that one #}
amounts_at_invoice as (

    select
        threshold_invoices.invoice_id,
        threshold_invoices.period_invoice_id,
        threshold_invoices.threshold_sequence,
        threshold_invoices.period_start,
        threshold_invoices.issued_at,
        product_steps.product_id,
        product_steps.amount_after_terms,
        row_number() over (
            partition by threshold_invoices.invoice_id, product_steps.product_id
            order by product_steps.replay_step desc
        ) as recency_rank
    from threshold_invoices
    inner join product_steps
        on
            threshold_invoices.period_invoice_id = product_steps.invoice_id
            and threshold_invoices.replay_step >= product_steps.replay_step

),

billed_by_invoice as (

    select
        invoice_id,
        period_invoice_id,
        period_start,
        issued_at,
        product_id,
        amount_after_terms - coalesce(lag(amount_after_terms) over (
            partition by period_invoice_id, product_id order by threshold_sequence
        ), 0) as amount
    from amounts_at_invoice
    where recency_rank = 1

),

lines as (

    select
        invoice_id,
        period_invoice_id,
        'threshold_usage' as line_type,
        product_id,
        amount,
        period_start as service_period_start,
        issued_at as service_period_end
    from billed_by_invoice
    where amount <> 0

    union all

    select
        period_invoice_id as invoice_id,
        period_invoice_id,
        'threshold_billed' as line_type,
        product_id,
        -sum(amount) as amount,
        min(period_start) as service_period_start,
        max(issued_at) as service_period_end
    from billed_by_invoice
    group by period_invoice_id, product_id
    having sum(amount) <> 0

),

final as (

    select
        {{ dbt.hash("lines.invoice_id || '|' || lines.line_type || '|' || lines.product_id") }} as invoice_line_id,
        lines.invoice_id,
        lines.line_type,
        lines.product_id,
        product_names.product_name,
        cast(lines.amount as {{ exact_decimal_type() }}) as amount,
        lines.service_period_start,
        lines.service_period_end
    from lines
    left join product_names
        on
            lines.period_invoice_id = product_names.invoice_id
            and lines.product_id = product_names.product_id

)

select * from final
