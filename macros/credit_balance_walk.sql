{#
  The balances CTE of int_credit_draws (contract §5.1 step 7): a recursive walk over each contract's
  steps (billing period x grant, in drawing order) that keeps one balance per account (each grant,
  each product's and the invoice's remaining amount in the current period). It reads the model's CTEs
  accounts (opening balances) and step_accounts (each step's view of each account), and gives one row
  per contract x step x account: contract_id, step_number, account_type, account_key, balance,
  step_draw (the step's draw, on every account row of the step).
#}
{% macro credit_balance_walk() -%}
    {{ return(adapter.dispatch('credit_balance_walk', 'warehouse_billing')()) }}
{%- endmacro %}

{% macro default__credit_balance_walk() %}
balances as (

    select
        contract_id,
        cast(0 as bigint) as step_number,
        account_type,
        account_key,
        cast(opening_amount as {{ exact_decimal_type() }}) as balance,
        cast(0 as {{ exact_decimal_type() }}) as step_draw
    from accounts

    union all

    (
        with

        {# every account of the contract as the next step finds it #}
        opened as (

            select
                balances.contract_id,
                balances.account_type,
                balances.account_key,
                step_accounts.step_number,
                step_accounts.step_grant_id,
                step_accounts.is_in_force,
                step_accounts.is_whole_invoice,
                step_accounts.is_published,
                step_accounts.published_draw,
                step_accounts.is_in_scope,
                case
                    when step_accounts.reopens_at_period_amount then step_accounts.period_amount
                    else balances.balance
                end as opening
            from balances
            inner join step_accounts
                on
                    balances.contract_id = step_accounts.contract_id
                    and step_accounts.step_number = balances.step_number + 1
                    and balances.account_type = step_accounts.account_type
                    and balances.account_key = step_accounts.account_key

        ),

        {#
          What the step's grant can reach: its balance, what is left of the invoice and of the products
          it applies to; and, per product, what the in-scope products before it (product_id order) hold.
        #}
        reachable as (

            select
                opened.*,
                max(case when account_type = 'grant' and account_key = step_grant_id then opening end)
                    over (partition by contract_id) as grant_balance,
                max(case when account_type = 'invoice' then opening end)
                    over (partition by contract_id) as invoice_remaining,
                coalesce(
                    sum(case when is_in_scope then greatest(opening, 0) end) over (partition by contract_id),
                    0
                ) as in_scope_remaining,
                coalesce(
                    sum(case when is_in_scope then greatest(opening, 0) end) over (
                        partition by contract_id
                        order by account_type, account_key
                        rows between unbounded preceding and 1 preceding
                    ),
                    0
                ) as in_scope_before
            from opened

        ),

        drawn as (

            select
                reachable.*,
                case
                    when is_published then published_draw
                    when not is_in_force then 0
                    else greatest(
                        least(
                            grant_balance,
                            invoice_remaining,
                            case when is_whole_invoice then invoice_remaining else in_scope_remaining end
                        ),
                        0
                    )
                end as draw
            from reachable

        )

        {# the draw comes off the grant and the invoice, and off in-scope products in product_id order #}
        select
            contract_id,
            step_number,
            account_type,
            account_key,
            cast(
                case
                    when account_type = 'grant' and account_key = step_grant_id then opening - draw
                    when account_type = 'invoice' then opening - draw
                    when is_in_scope then opening - least(greatest(draw - in_scope_before, 0), greatest(opening, 0))
                    else opening
                end as {{ exact_decimal_type() }}
            ) as balance,
            cast(draw as {{ exact_decimal_type() }}) as step_draw
        from drawn
    )

)
{%- endmacro %}

{#
  Spark refuses window functions and aggregates over a recursive reference, so its walk keeps one row
  per contract and step, with every account's balance in one map keyed by (account_type, account_key).
  A step's accounts come as one array sorted by (account_type, account_key), the order the other walk
  uses, and the draw is computed from it with higher-order functions (aggregate, transform): the same
  rule, account for account. The map is exploded back into one row per account at the end.
  Spark evaluates whatever the recursive step reads once per step, so all of a contract's steps travel
  in its row (walk_steps, computed once) and the step reads only the row before it.
#}
{% macro spark__credit_balance_walk() %}
step_account_arrays as (

    select
        contract_id,
        step_number,
        named_struct(
            'step_number', step_number,
            'step_grant_id', step_grant_id,
            'is_in_force', is_in_force,
            'is_whole_invoice', is_whole_invoice,
            'is_published', is_published,
            'published_draw', cast(published_draw as {{ exact_decimal_type() }}),
            'step_accounts', array_sort(collect_list(named_struct(
                'account_type', account_type,
                'account_key', account_key,
                'is_in_scope', is_in_scope,
                'reopens_at_period_amount', reopens_at_period_amount,
                'period_amount', cast(period_amount as {{ exact_decimal_type() }})
            )))
        ) as walk_step
    from step_accounts
    group by
        contract_id, step_number, step_grant_id, is_in_force, is_whole_invoice, is_published, published_draw

),

{# steps are numbered 1, 2, ... per contract: step n is element n of the sorted array #}
contract_walks as (

    select
        contract_id,
        array_sort(collect_list(walk_step)) as walk_steps
    from step_account_arrays
    group by contract_id

),

balance_states as (

    select
        accounts.contract_id,
        cast(0 as bigint) as step_number,
        map_from_entries(collect_list(struct(
            named_struct('account_type', accounts.account_type, 'account_key', accounts.account_key),
            cast(accounts.opening_amount as {{ exact_decimal_type() }})
        ))) as balance_by_account,
        cast(0 as {{ exact_decimal_type() }}) as step_draw,
        coalesce(first(contract_walks.walk_steps), array()) as walk_steps
    from accounts
    left join contract_walks
        on accounts.contract_id = contract_walks.contract_id
    group by accounts.contract_id

    union all

    select
        contract_id,
        step.step_number,
        map_from_entries(transform(opened, (account, position) -> struct(
            named_struct('account_type', account.account_type, 'account_key', account.account_key),
            cast(
                case
                    when account.account_type = 'grant' and account.account_key = step.step_grant_id
                        then account.opening - draw
                    when account.account_type = 'invoice' then account.opening - draw
                    when account.is_in_scope then account.opening - least(
                        greatest(
                            draw - aggregate(
                                slice(opened, 1, position),
                                cast(0 as {{ exact_decimal_type() }}),
                                (total, earlier) -> cast(
                                    total + case when earlier.is_in_scope then greatest(earlier.opening, 0) else 0 end
                                    as {{ exact_decimal_type() }}
                                )
                            ),
                            0
                        ),
                        greatest(account.opening, 0)
                    )
                    else account.opening
                end as {{ exact_decimal_type() }}
            )
        ))) as balance_by_account,
        cast(draw as {{ exact_decimal_type() }}) as step_draw,
        walk_steps
    from (
        select
            reachable.*,
            case
                when step.is_published then step.published_draw
                when not step.is_in_force then 0
                else greatest(
                    least(
                        grant_balance,
                        invoice_remaining,
                        case when step.is_whole_invoice then invoice_remaining else in_scope_remaining end
                    ),
                    0
                )
            end as draw
        from (
            select
                opened_step.*,
                aggregate(
                    opened, cast(null as {{ exact_decimal_type() }}),
                    (found, account) -> case
                        when account.account_type = 'grant' and account.account_key = step.step_grant_id
                            then account.opening
                        else found
                    end
                ) as grant_balance,
                aggregate(
                    opened, cast(null as {{ exact_decimal_type() }}),
                    (found, account) -> case when account.account_type = 'invoice' then account.opening else found end
                ) as invoice_remaining,
                aggregate(
                    opened, cast(0 as {{ exact_decimal_type() }}),
                    (total, account) -> cast(
                        total + case when account.is_in_scope then greatest(account.opening, 0) else 0 end
                        as {{ exact_decimal_type() }}
                    )
                ) as in_scope_remaining
            from (
                select
                    next_step.contract_id,
                    next_step.walk_steps,
                    next_step.step,
                    transform(next_step.step.step_accounts, account -> named_struct(
                        'account_type', account.account_type,
                        'account_key', account.account_key,
                        'is_in_scope', account.is_in_scope,
                        'opening', cast(
                            case
                                when account.reopens_at_period_amount then account.period_amount
                                else try_element_at(
                                    next_step.balance_by_account,
                                    named_struct('account_type', account.account_type, 'account_key', account.account_key)
                                )
                            end as {{ exact_decimal_type() }}
                        )
                    )) as opened
                from (
                    select
                        contract_id,
                        walk_steps,
                        balance_by_account,
                        element_at(walk_steps, cast(step_number + 1 as int)) as step
                    from balance_states
                    where step_number < size(walk_steps)
                ) as next_step
            ) as opened_step
        ) as reachable
    ) as drawn

),

balances as (

    select
        balance_states.contract_id,
        balance_states.step_number,
        account_balance.account.account_type,
        account_balance.account.account_key,
        account_balance.balance,
        balance_states.step_draw
    from balance_states
    lateral view explode(balance_states.balance_by_account) account_balance as account, balance

)
{%- endmacro %}
