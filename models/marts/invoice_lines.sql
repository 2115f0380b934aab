{#
  Every line of every invoice, draft or ready: one row per invoice x line. Lines follow contract §5.1's
  order of calculation: usage and recurring charges (steps 1-2), per-charge override, discount,
  minimum and maximum lines (step 3), a threshold invoice's usage to date and the period invoice's
  subtraction of what its threshold invoices billed (SPEC 6.2), invoice discounts and the commitment true-up (steps 4-5),
  late-event adjustments of published invoices (step 6, contract §7.3), tax (SPEC 6.2), a balance
  carried from an earlier invoice, then credits (step 7), and last a balance carried to the next invoice when the
  lines sum below zero (SPEC 6.1). Each adjustment is a line of its own, so an invoice explains itself.
#}
with

contract_invoices as (

    select * from {{ ref('int_contract_invoices') }}

),

charges as (

    select * from {{ ref('int_charges_rated') }}

),

charge_adjustments as (

    select * from {{ ref('int_charge_adjustment_lines') }}

),

invoice_adjustments as (

    select * from {{ ref('int_invoice_adjustment_lines') }}

),

threshold_lines as (

    select * from {{ ref('int_threshold_lines') }}

),

late_adjustments as (

    select * from {{ ref('int_late_adjustment_lines') }}

),

{# order and label of each kind of line (seed invoice_line_types, macros/invoice_lines.sql) #}
line_types as (

    select * from {{ ref('invoice_line_types') }}

),

credit_draws as (

    select * from {{ ref('int_credit_draws') }}
    where drawn_amount > 0

),

balance_applied as (

    select * from {{ ref('int_balance_applied_lines') }}

),

credit_notes as (

    select * from {{ ref('int_credit_note_lines') }}

),

tax_lines as (

    select * from {{ ref('int_invoice_tax_lines') }}

),

lines_before_balance_carried as (

    select
        invoice_line_id,
        invoice_id,
        line_type,
        price_id,
        product_id,
        product_name,
        metric_id,
        pricing_model,
        dimensions,
        quantity,
        event_count,
        unit_price,
        amount,
        cast(null as {{ dbt.type_string() }}) as discount_id,
        cast(null as {{ dbt.type_string() }}) as grant_id,
        cast(null as {{ dbt.type_string() }}) as tax_rate_id,
        cast(null as {{ dbt.type_string() }}) as adjusts_invoice_id,
        cast(null as {{ dbt.type_string() }}) as adjusts_invoice_line_id,
        0 as line_sequence,
        service_period_start,
        service_period_end
    from charges

    union all

    select
        invoice_line_id,
        invoice_id,
        line_type,
        cast(null as {{ dbt.type_string() }}) as price_id,
        product_id,
        product_name,
        cast(null as {{ dbt.type_string() }}) as metric_id,
        cast(null as {{ dbt.type_string() }}) as pricing_model,
        '{}' as dimensions,
        cast(null as {{ exact_decimal_type() }}) as quantity,
        0 as event_count,
        unit_price,
        amount,
        discount_id,
        cast(null as {{ dbt.type_string() }}) as grant_id,
        cast(null as {{ dbt.type_string() }}) as tax_rate_id,
        cast(null as {{ dbt.type_string() }}) as adjusts_invoice_id,
        cast(null as {{ dbt.type_string() }}) as adjusts_invoice_line_id,
        line_sequence,
        cast(null as timestamp) as service_period_start,
        cast(null as timestamp) as service_period_end
    from charge_adjustments

    union all

    select
        invoice_line_id,
        invoice_id,
        line_type,
        cast(null as {{ dbt.type_string() }}) as price_id,
        product_id,
        product_name,
        cast(null as {{ dbt.type_string() }}) as metric_id,
        cast(null as {{ dbt.type_string() }}) as pricing_model,
        '{}' as dimensions,
        cast(null as {{ exact_decimal_type() }}) as quantity,
        0 as event_count,
        cast(null as {{ exact_decimal_type() }}) as unit_price,
        amount,
        cast(null as {{ dbt.type_string() }}) as discount_id,
        cast(null as {{ dbt.type_string() }}) as grant_id,
        cast(null as {{ dbt.type_string() }}) as tax_rate_id,
        cast(null as {{ dbt.type_string() }}) as adjusts_invoice_id,
        cast(null as {{ dbt.type_string() }}) as adjusts_invoice_line_id,
        0 as line_sequence,
        service_period_start,
        service_period_end
    from threshold_lines

    union all

    select
        invoice_line_id,
        invoice_id,
        line_type,
        cast(null as {{ dbt.type_string() }}) as price_id,
        cast(null as {{ dbt.type_string() }}) as product_id,
        cast(null as {{ dbt.type_string() }}) as product_name,
        cast(null as {{ dbt.type_string() }}) as metric_id,
        cast(null as {{ dbt.type_string() }}) as pricing_model,
        '{}' as dimensions,
        cast(null as {{ exact_decimal_type() }}) as quantity,
        0 as event_count,
        cast(null as {{ exact_decimal_type() }}) as unit_price,
        amount,
        discount_id,
        cast(null as {{ dbt.type_string() }}) as grant_id,
        cast(null as {{ dbt.type_string() }}) as tax_rate_id,
        cast(null as {{ dbt.type_string() }}) as adjusts_invoice_id,
        cast(null as {{ dbt.type_string() }}) as adjusts_invoice_line_id,
        line_sequence,
        cast(null as timestamp) as service_period_start,
        cast(null as timestamp) as service_period_end
    from invoice_adjustments

    union all

    select
        invoice_line_id,
        invoice_id,
        line_type,
        cast(null as {{ dbt.type_string() }}) as price_id,
        product_id,
        product_name,
        metric_id,
        cast(null as {{ dbt.type_string() }}) as pricing_model,
        dimensions,
        quantity,
        0 as event_count,
        cast(null as {{ exact_decimal_type() }}) as unit_price,
        amount,
        cast(null as {{ dbt.type_string() }}) as discount_id,
        cast(null as {{ dbt.type_string() }}) as grant_id,
        cast(null as {{ dbt.type_string() }}) as tax_rate_id,
        adjusts_invoice_id,
        adjusts_invoice_line_id,
        0 as line_sequence,
        cast(null as timestamp) as service_period_start,
        cast(null as timestamp) as service_period_end
    from late_adjustments

    union all

    select
        {{ dbt.hash("credit_draws.invoice_id || '|credit|' || credit_draws.grant_id") }} as invoice_line_id,
        credit_draws.invoice_id,
        'credit' as line_type,
        cast(null as {{ dbt.type_string() }}) as price_id,
        cast(null as {{ dbt.type_string() }}) as product_id,
        case credit_draws.grant_type when 'prepaid' then 'Prepaid credit' else 'Promotional credit' end
            as product_name,
        cast(null as {{ dbt.type_string() }}) as metric_id,
        cast(null as {{ dbt.type_string() }}) as pricing_model,
        '{}' as dimensions,
        cast(null as {{ exact_decimal_type() }}) as quantity,
        0 as event_count,
        cast(null as {{ exact_decimal_type() }}) as unit_price,
        -credit_draws.drawn_amount as amount,
        cast(null as {{ dbt.type_string() }}) as discount_id,
        credit_draws.grant_id,
        cast(null as {{ dbt.type_string() }}) as tax_rate_id,
        cast(null as {{ dbt.type_string() }}) as adjusts_invoice_id,
        cast(null as {{ dbt.type_string() }}) as adjusts_invoice_line_id,
        credit_draws.grant_rank as line_sequence,
        cast(null as timestamp) as service_period_start,
        cast(null as timestamp) as service_period_end
    from credit_draws

    union all

    select
        invoice_line_id,
        invoice_id,
        line_type,
        cast(null as {{ dbt.type_string() }}) as price_id,
        cast(null as {{ dbt.type_string() }}) as product_id,
        cast(null as {{ dbt.type_string() }}) as product_name,
        cast(null as {{ dbt.type_string() }}) as metric_id,
        cast(null as {{ dbt.type_string() }}) as pricing_model,
        '{}' as dimensions,
        cast(null as {{ exact_decimal_type() }}) as quantity,
        0 as event_count,
        cast(null as {{ exact_decimal_type() }}) as unit_price,
        amount,
        cast(null as {{ dbt.type_string() }}) as discount_id,
        cast(null as {{ dbt.type_string() }}) as grant_id,
        cast(null as {{ dbt.type_string() }}) as tax_rate_id,
        carried_from_invoice_id as adjusts_invoice_id,
        carried_from_line_id as adjusts_invoice_line_id,
        0 as line_sequence,
        cast(null as timestamp) as service_period_start,
        cast(null as timestamp) as service_period_end
    from balance_applied

    union all

    {# tax: quantity holds the taxable base and unit_price the rate (int_invoice_tax_lines) #}
    select
        invoice_line_id,
        invoice_id,
        line_type,
        cast(null as {{ dbt.type_string() }}) as price_id,
        cast(null as {{ dbt.type_string() }}) as product_id,
        product_name,
        cast(null as {{ dbt.type_string() }}) as metric_id,
        cast(null as {{ dbt.type_string() }}) as pricing_model,
        '{}' as dimensions,
        taxable_base as quantity,
        0 as event_count,
        rate as unit_price,
        amount,
        cast(null as {{ dbt.type_string() }}) as discount_id,
        cast(null as {{ dbt.type_string() }}) as grant_id,
        tax_rate_id,
        cast(null as {{ dbt.type_string() }}) as adjusts_invoice_id,
        cast(null as {{ dbt.type_string() }}) as adjusts_invoice_line_id,
        0 as line_sequence,
        cast(null as timestamp) as service_period_start,
        cast(null as timestamp) as service_period_end
    from tax_lines

    union all

    {# a credit note names the credited invoice and, in adjusts_invoice_line_id, the credit_note_id #}
    select
        invoice_line_id,
        invoice_id,
        line_type,
        cast(null as {{ dbt.type_string() }}) as price_id,
        cast(null as {{ dbt.type_string() }}) as product_id,
        cast(null as {{ dbt.type_string() }}) as product_name,
        cast(null as {{ dbt.type_string() }}) as metric_id,
        cast(null as {{ dbt.type_string() }}) as pricing_model,
        '{}' as dimensions,
        cast(null as {{ exact_decimal_type() }}) as quantity,
        0 as event_count,
        cast(null as {{ exact_decimal_type() }}) as unit_price,
        amount,
        cast(null as {{ dbt.type_string() }}) as discount_id,
        cast(null as {{ dbt.type_string() }}) as grant_id,
        cast(null as {{ dbt.type_string() }}) as tax_rate_id,
        credited_invoice_id as adjusts_invoice_id,
        credit_note_id as adjusts_invoice_line_id,
        0 as line_sequence,
        cast(null as timestamp) as service_period_start,
        cast(null as timestamp) as service_period_end
    from credit_notes

),

{#
  A negative remainder never reaches the customer as a negative total (SPEC 6.1): a `balance_carried`
  line brings the invoice to 0, and once published the amount is drawn first on the next invoice
  (int_balance_applied_lines).
#}
invoice_sums as (

    select
        invoice_id,
        sum(amount) as total_before_balance_carried
    from lines_before_balance_carried
    group by invoice_id

),

all_lines as (

    select * from lines_before_balance_carried

    union all

    select
        {{ dbt.hash("invoice_id || '|balance_carried'") }} as invoice_line_id,
        invoice_id,
        'balance_carried' as line_type,
        cast(null as {{ dbt.type_string() }}) as price_id,
        cast(null as {{ dbt.type_string() }}) as product_id,
        cast(null as {{ dbt.type_string() }}) as product_name,
        cast(null as {{ dbt.type_string() }}) as metric_id,
        cast(null as {{ dbt.type_string() }}) as pricing_model,
        '{}' as dimensions,
        cast(null as {{ exact_decimal_type() }}) as quantity,
        0 as event_count,
        cast(null as {{ exact_decimal_type() }}) as unit_price,
        -total_before_balance_carried as amount,
        cast(null as {{ dbt.type_string() }}) as discount_id,
        cast(null as {{ dbt.type_string() }}) as grant_id,
        cast(null as {{ dbt.type_string() }}) as tax_rate_id,
        cast(null as {{ dbt.type_string() }}) as adjusts_invoice_id,
        cast(null as {{ dbt.type_string() }}) as adjusts_invoice_line_id,
        0 as line_sequence,
        cast(null as timestamp) as service_period_start,
        cast(null as timestamp) as service_period_end
    from invoice_sums
    where total_before_balance_carried < 0

),

final as (

    select
        all_lines.invoice_line_id,
        all_lines.invoice_id,
        contract_invoices.contract_id,
        contract_invoices.customer_id,
        contract_invoices.currency,
        all_lines.line_type,
        cast(line_types.display_order + all_lines.line_sequence as bigint) as line_order,
        all_lines.price_id,
        all_lines.product_id,
        coalesce(all_lines.product_name, line_types.label) as product_name,
        all_lines.metric_id,
        all_lines.pricing_model,
        all_lines.dimensions,
        cast(all_lines.quantity as {{ exact_decimal_type() }}) as quantity,
        cast(all_lines.event_count as bigint) as event_count,
        cast(all_lines.unit_price as {{ exact_decimal_type() }}) as unit_price,
        cast(all_lines.amount as {{ money_type() }}) as amount,
        {# a charge line has its own (a fee interval's); an adjustment keeps the period of the line it corrects #}
        coalesce(
            all_lines.service_period_start, adjusted_periods.coverage_starts_at, contract_invoices.coverage_starts_at
        ) as service_period_start,
        coalesce(
            all_lines.service_period_end, adjusted_periods.coverage_ends_at, contract_invoices.coverage_ends_at
        ) as service_period_end,
        all_lines.discount_id,
        all_lines.grant_id,
        all_lines.tax_rate_id,
        all_lines.adjusts_invoice_id,
        all_lines.adjusts_invoice_line_id
    from all_lines
    inner join contract_invoices
        on all_lines.invoice_id = contract_invoices.invoice_id
    left join line_types
        on
            all_lines.line_type = line_types.line_type
            and line_types.line_scope = {{ line_scope('all_lines.product_id') }}
    {# an adjustment keeps the service period of the line it corrects #}
    left join contract_invoices as adjusted_periods
        on all_lines.adjusts_invoice_id = adjusted_periods.invoice_id

)

select * from final
