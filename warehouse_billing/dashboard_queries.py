"""The queries of the two dashboard pages (``dashboards/``), one per panel.

``{name}`` stands for a mart or a customer view (``DashboardSource.relation``). Each page may read only
what its dbt exposure lists (models/marts/_dashboards__exposures.yml), and the customer page only the
``portal_*`` views, which show the session's customer alone: tests/test_dashboards.py holds both.
Amounts are mart columns, or sums of one for a total; the queries compute no price.
"""

from __future__ import annotations

FINANCE = {
    # one row per currency x status: how many invoices and what they total
    "invoice_totals": """
        select currency, status, count(*) as invoices, sum(total_due) as total_due
        from {invoices}
        group by currency, status
        order by currency, status
    """,
    # the register: each invoice with the sum of its lines beside its total (they must tie out)
    "invoice_register": """
        with line_sums as (
            select invoice_id, sum(amount) as sum_of_lines, count(*) as lines_found
            from {invoice_lines}
            group by invoice_id
        )
        select
            invoices.invoice_id, invoices.customer_id, invoices.contract_id, invoices.invoice_kind,
            invoices.threshold_sequence, invoices.status, invoices.period_start, invoices.period_end,
            invoices.currency,
            invoices.subtotal, invoices.discount_total, invoices.commitment_true_up,
            invoices.adjustment_total, invoices.tax_total, invoices.threshold_billed, invoices.credits_applied,
            invoices.total_due,
            coalesce(line_sums.sum_of_lines, 0) as sum_of_lines,
            invoices.total_due = coalesce(line_sums.sum_of_lines, 0)
                and invoices.line_count = coalesce(line_sums.lines_found, 0) as ties_out
        from {invoices} as invoices
        left join line_sums on invoices.invoice_id = line_sums.invoice_id
        order by invoices.period_start desc, invoices.customer_id, invoices.invoice_id
    """,
    "invoice_holds": """
        select invoice_id, customer_id, period_start, check_name, reason, failure_count, first_held_at
        from {invoice_holds}
        order by first_held_at desc, invoice_id, check_name
    """,
    "quarantine_by_reason": """
        select reason, count(*) as raw_rows, min(ingested_at) as first_ingested_at,
            max(ingested_at) as last_ingested_at
        from {quarantined_usage_events}
        group by reason
        order by raw_rows desc, reason
    """,
    "quarantine_latest": """
        select raw_row_key, event_id, customer_id, event_type, occurred_at, ingested_at, reason
        from {quarantined_usage_events}
        order by ingested_at desc, raw_row_key
        limit 200
    """,
    "reconciliation": """
        select ingestion_date, received_count, accepted_count, duplicate_count,
            conflicting_duplicate_count, quarantined_count, unmetered_count, is_balanced
        from {usage_event_reconciliation}
        order by ingestion_date desc
    """,
    # billed amounts by product and month of the period (every line, drafts included)
    "spend_by_product": """
        select
            invoices.period_start, invoice_lines.currency,
            coalesce(invoice_lines.product_name, invoice_lines.line_type) as product,
            sum(invoice_lines.amount) as amount
        from {invoice_lines} as invoice_lines
        inner join {invoices} as invoices on invoice_lines.invoice_id = invoices.invoice_id
        group by invoices.period_start, invoice_lines.currency,
            coalesce(invoice_lines.product_name, invoice_lines.line_type)
        order by invoices.period_start desc, invoice_lines.currency, amount desc
    """,
}

CUSTOMER = {
    # the open periods: spend so far and the projection, with the draft's commitment and credits
    "live_spend": """
        select
            live.invoice_id, live.contract_id, live.currency, live.period_start, live.period_end,
            live.event_count_so_far, live.usage_amount_so_far, live.amount_due_so_far,
            live.projected_period_end_amount, drafts.commitment_true_up, drafts.credits_applied,
            live.last_usage_date, live.as_of
        from {portal_live_spend} as live
        left join {portal_invoices} as drafts on live.invoice_id = drafts.invoice_id
        order by live.period_start, live.contract_id
    """,
    "daily_usage": """
        select usage_date, metric_id, dimensions, quantity, event_count
        from {portal_daily_usage}
        where usage_date >= (select cast(min(period_start) as date) from {portal_live_spend})
        order by usage_date, metric_id, dimensions
    """,
    "daily_spend": """
        select usage_date, currency, sum(amount) as amount
        from {portal_daily_spend}
        where invoice_id in (select invoice_id from {portal_live_spend})
        group by usage_date, currency
        order by usage_date, currency
    """,
    "credit_balances": """
        select grant_id, grant_type, currency, granted_amount, drawn_amount, expired_amount,
            remaining_balance, expires_at, is_expired
        from {portal_credit_balances}
        order by is_expired, expires_at, grant_id
    """,
    "alerts": """
        select alert_id, alert_type, metric_id, threshold, crossed_value, currency, crossed_on,
            period_start, as_of as seen_at
        from {portal_alert_notifications}
        order by as_of desc, alert_id
    """,
    "past_invoices": """
        select invoice_id, period_start, period_end, currency, status, total_due
        from {portal_invoices}
        where status <> 'draft'
        order by period_start desc, invoice_id
    """,
}
