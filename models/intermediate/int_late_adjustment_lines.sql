{#
  Corrections of published invoices (SPEC 6.1, contract §7.3): each difference that delta rating found
  (int_published_line_deltas: a published invoice re-rated with its own period's terms) becomes an
  `adjustment` line on the customer's next unpublished invoice in the same currency
  (int_next_unpublished_invoices), with the service period of the invoice it corrects. The line names
  the published line it corrects (adjusts_invoice_id, adjusts_invoice_line_id). One row per adjustment
  line.

  So late usage is billed under the terms of its period: with a 20 % override an extra 10.00 of usage
  gives +10.00 usage and -2.00 override adjustments; past a cap, the cap's line grows by as much and the
  net is 0; a commitment true-up shrinks as late usage fills the commitment. An adjustment of a charge
  line carries the product; one of an override, discount, minimum or cap line carries the product and
  that line's label; one of an invoice discount or commitment true-up has no product and carries the
  label. The next invoice's own discounts, commitment and minimums do not count adjustments; its
  credits may absorb them.

  Differences of a published invoice whose reference data changed without an approval
  (int_rebill_pending_invoices) are held here, late usage of that period included: they are on no
  invoice until a rebill_approvals row names the invoice, and rebilling_preview shows them (decision 49).
#}
with

deltas as (

    select * from {{ ref('int_published_line_deltas') }}

),

next_invoices as (

    select * from {{ ref('int_next_unpublished_invoices') }}

),

contract_invoices as (

    select * from {{ ref('int_contract_invoices') }}

),

line_types as (

    select * from {{ ref('invoice_line_types') }}

),

{# invoices whose reference data changed without an approval: their differences wait (decision 49) #}
pending_rebills as (

    select * from {{ ref('int_rebill_pending_invoices') }}

),

final as (

    select
        {{ dbt.hash("next_invoices.next_invoice_id || '|adjustment|' || deltas.adjusts_invoice_line_id") }}
            as invoice_line_id,
        next_invoices.next_invoice_id as invoice_id,
        'adjustment' as line_type,
        deltas.product_id,
        case
            when deltas.corrected_line_type in ('usage', 'recurring') then deltas.product_name
            when deltas.product_id is null then line_types.label
            else {{ dbt.concat(["deltas.product_name", "' ('", "line_types.label", "')'"]) }}
        end as product_name,
        deltas.metric_id,
        deltas.dimensions,
        deltas.quantity,
        deltas.amount,
        deltas.adjusts_invoice_id,
        deltas.adjusts_invoice_line_id,
        source_period.coverage_starts_at as service_period_start,
        source_period.coverage_ends_at as service_period_end
    from deltas
    inner join next_invoices
        on deltas.adjusts_invoice_id = next_invoices.published_invoice_id
    inner join contract_invoices as source_period
        on deltas.adjusts_invoice_id = source_period.invoice_id
    left join line_types
        on
            deltas.corrected_line_type = line_types.line_type
            and line_types.line_scope = {{ line_scope('deltas.product_id') }}
    where not exists (
        select 1
        from pending_rebills
        where pending_rebills.invoice_id = deltas.adjusts_invoice_id
    )

)

select * from final
