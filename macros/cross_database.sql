{#
  The few places where DuckDB, Postgres and Spark need different SQL. Each macro dispatches by adapter
  (dbt-utils style); the postgres variants rely on the helper functions created by
  create_helper_functions() at the start of every run. On Spark a JSON value stays text, checked and
  read with Spark 4's VARIANT functions.
#}

{% macro create_helper_functions() -%}
    {{ return(adapter.dispatch('create_helper_functions', 'warehouse_billing')()) }}
{%- endmacro %}

{% macro default__create_helper_functions() -%}
    {#- nothing to run: dbt skips a hook that renders empty -#}
{%- endmacro %}

{#
  Spark: the session settings exact money depends on (contract §5.1, decision 40), for the whole run.
  dbt-spark sets spark.sql.ansi.enabled=false on every statement (it cannot be turned on), so a
  decimal that overflows becomes NULL instead of raising: the not_null tests on invoice_lines.amount
  and invoices.total_due turn that into a failed build, and publication waits.
  - allowPrecisionLoss=false: decimal(38,10) * decimal(38,10) keeps scale 20 (Spark's default would
    round the product to 6 decimal places to fit 38 digits).
  - variant.allowDuplicateKeys: JSON with a repeated key is valid JSON (RFC 8259) on DuckDB and
    Postgres too; the last value wins, as on Postgres.
  - cteRecursionLevelLimit / RowLimit: the credit walk (int_credit_draws) recurses once per billing
    period x grant of the longest contract, more than Spark's default limit of 100 levels.
#}
{% macro spark__create_helper_functions() -%}
    {%- if execute -%}
        {%- do run_query('set spark.sql.decimalOperations.allowPrecisionLoss = false') -%}
        {%- do run_query('set spark.sql.variant.allowDuplicateKeys = true') -%}
        {%- do run_query('set spark.sql.cteRecursionLevelLimit = -1') -%}
        {%- do run_query('set spark.sql.cteRecursionRowLimit = -1') -%}
    {%- endif -%}
    {#- nothing to run: dbt skips a hook that renders empty -#}
{%- endmacro %}

{#
  Postgres 15 has no try_cast: these functions return null instead of raising on input that does not
  parse, so one bad raw row is quarantined instead of failing the whole run.
#}
{% macro postgres__create_helper_functions() -%}
    create schema if not exists {{ target.schema }};
    create or replace function {{ target.schema }}.billing_try_json_object(value text) returns jsonb
    language plpgsql immutable as $fn$
    declare
        parsed jsonb;
        key_count integer;
    begin
        -- decision 46: the limits first (they cost nothing on texts of up to 1,000 bytes);
        -- a run of 1,001 digits, written for Postgres's regex, whose counts stop at 255
        if octet_length(value) > 1000 and (
            length(value) > 50000
            or length(value) - length(replace(replace(value, '[', ''), '{', '')) > 999
            or value ~ '([0-9]{250}){4}[0-9]'
        ) then
            return null;
        end if;
        -- jsonb input is RFC 8259 and refuses \u0000 and unpaired surrogates
        parsed := value::jsonb;
        if jsonb_typeof(parsed) is distinct from 'object' then
            return null;
        end if;
        -- an exponent beyond +-1000, outside strings (jsonb takes up to about 1e131071)
        if value ~ '[eE][+-]?0*[1-9][0-9]{3}'
            and regexp_replace(value, '{{ json_string_token_pattern() }}', '""', 'g')
            ~ '{{ json_large_exponent_pattern() }}'
        then
            return null;
        end if;
        -- jsonb keeps the last of repeated keys. A text with no more ':' than the object has keys
        -- cannot repeat one; only other texts (nested objects, ':' inside strings) count the text's keys.
        key_count := jsonb_array_length(jsonb_path_query_array(parsed, '$.*'));
        if octet_length(value) - octet_length(replace(value, ':', '')) > key_count then
            if (select count(*) from json_object_keys(value::json)) > key_count then
                return null;
            end if;
        end if;
        return parsed;
    exception when others then
        return null;
    end
    $fn$;
    create or replace function {{ target.schema }}.billing_try_timestamp_utc(value text) returns timestamp
    language plpgsql immutable as $fn$
    begin
        return (value::timestamptz) at time zone 'UTC';
    exception when others then
        return null;
    end
    $fn$;
    create or replace function {{ target.schema }}.billing_try_decimal(value text) returns numeric(38, 10)
    language plpgsql immutable as $fn$
    begin
        return value::numeric(38, 10);
    exception when others then
        return null;
    end
    $fn$
{%- endmacro %}

{#
  One JSON grammar on every warehouse (decision 46): a properties text is a JSON object when it is
  RFC 8259 JSON whose top-level value is an object, with three more refusals and the tightest
  engine's limits:
  - no top-level key twice (DuckDB reads the first value, Postgres and Spark the last);
  - no \u0000 escape (Postgres jsonb cannot hold it) and no unpaired surrogate escape (Postgres
    refuses it);
  - at most 50,000 characters, at most 999 characters '[' or '{' (so at most 999 levels of nesting;
    Spark's parser stops at 1,000), no run of more than 1,000 digits (Spark's limit for a number) and
    no exponent beyond +-1000 (Postgres's numeric refuses exponents from about +131,000 or -16,000,
    where DuckDB and Spark read a double; 1,000 stays inside that for any number the other limits let
    through).
  Each engine's own parser checks the structure; what a parser accepts beyond RFC 8259 is refused
  before it parses: DuckDB (yyjson) takes NaN, Infinity and trailing commas, so its text must also
  match json_token_pattern(); Spark's parser reads the first value and ignores what follows.
#}

{#
  The texts made only of RFC 8259 tokens: JSON whitespace, punctuation, strings whose escapes are
  valid (no \u0000, surrogates only in pairs) and that hold no raw control character, numbers,
  true/false/null. A comma must be followed by the start of a value, which refuses trailing commas.
  `possessive` gives the same language with possessive quantifiers, for Java's backtracking regex
  (Spark), which would otherwise recurse once per token.
#}
{% macro json_token_pattern(possessive=false) -%}
    {%- set q = '*+' if possessive else '*' -%}
    {%- set hex = '[0-9a-fA-F]' -%}
    {%- set unicode_escape = '\\\\u(?:[1-9a-cA-CeEfF]' ~ hex ~ '{3}|[dD][0-7]' ~ hex ~ '{2}|0[1-9a-fA-F]' ~ hex ~ '{2}'
        ~ '|00[1-9a-fA-F]' ~ hex ~ '|000[1-9a-fA-F]|[dD][89abAB]' ~ hex ~ '{2}\\\\u[dD][c-fC-F]' ~ hex ~ '{2})' -%}
    {%- set string = '"(?:[^"\\\\\\x00-\\x1f]|\\\\["\\\\/bfnrt]|' ~ unicode_escape ~ ')' ~ q ~ '"' -%}
    {%- set number = '-?(?:0|[1-9][0-9]' ~ q ~ ')(?:\\.[0-9]+)?(?:[eE][+-]?[0-9]+)?' -%}
    {%- set ws = '[ \\t\\n\\r]' ~ q -%}
    {%- set value_start = '(?:' ~ string ~ '|' ~ number ~ '|true|false|null|[{\\[])' -%}
    {%- set token = '(?:[{}\\[\\]:]|,' ~ ws ~ value_start ~ '|' ~ string ~ '|' ~ number ~ '|true|false|null)' -%}
    {{- ws ~ '(?:' ~ token ~ ws ~ ')' ~ q -}}
{%- endmacro %}

{# strings of a JSON text (escapes included), to be blanked out before looking at its numbers #}
{% macro json_string_token_pattern() -%}
    "[^"\\]*(?:\\.[^"\\]*)*"
{%- endmacro %}

{# an exponent above 1000 in absolute value (decision 46) #}
{% macro json_large_exponent_pattern() -%}
    [eE][+-]?0*(?:[1-9][0-9]{4,}|[2-9][0-9]{3}|1[1-9][0-9]{2}|10[1-9][0-9]|100[1-9])
{%- endmacro %}

{# A JSON value (json on DuckDB, jsonb on Postgres) when the text is a JSON object (decision 46), else null. #}
{% macro json_object_or_null(text_expr) -%}
    {{ return(adapter.dispatch('json_object_or_null', 'warehouse_billing')(text_expr)) }}
{%- endmacro %}

{#
  The limits of decision 46 that need a look at the text (DuckDB and Spark; Postgres checks them in
  billing_try_json_object): only a text of more than 1,000 characters can break the first two, and only
  one with a four-digit exponent-like run the third, so a usual row pays two length() and one search.
#}
{% macro json_text_within_limits(text_expr) -%}
    {%- set g = ", 'g'" if target.type != 'spark' else '' -%}
    {%- set bs = '\\\\' if target.type == 'spark' else '\\' -%}
    (
        (
            length({{ text_expr }}) <= 1000
            or (
                length({{ text_expr }}) - length(replace(replace({{ text_expr }}, '[', ''), '{', '')) <= 999
                and not {{ regex_contains(text_expr, "'[0-9]{1000}[0-9]'") }}
            )
        )
        and (
            not {{ regex_contains(text_expr, "'[eE][+-]?0*[1-9][0-9]{3}'") }}
            or not {{ regex_contains(
                "regexp_replace(" ~ text_expr ~ ", '" ~ json_string_token_pattern() | replace('\\', bs) ~ "', '\"\"'" ~ g ~ ")",
                "'" ~ json_large_exponent_pattern() ~ "'"
            ) }}
        )
    )
{%- endmacro %}

{# the text holds a match of the pattern somewhere (not anchored) #}
{% macro regex_contains(text_expr, pattern_literal) -%}
    {{ return(adapter.dispatch('regex_contains', 'warehouse_billing')(text_expr, pattern_literal)) }}
{%- endmacro %}

{% macro default__regex_contains(text_expr, pattern_literal) -%}
    regexp_matches({{ text_expr }}, {{ pattern_literal }})
{%- endmacro %}

{% macro postgres__regex_contains(text_expr, pattern_literal) -%}
    ({{ text_expr }} ~ {{ pattern_literal }})
{%- endmacro %}

{% macro spark__regex_contains(text_expr, pattern_literal) -%}
    ({{ text_expr }} rlike {{ pattern_literal | replace('\\', '\\\\') }})
{%- endmacro %}

{#
  DuckDB: yyjson parses; the token pattern refuses what it accepts beyond RFC 8259 (NaN, Infinity,
  trailing commas); json_keys lists a repeated key twice. Scalar functions only: a subquery per row
  would be decorrelated into a join over every raw row, which stops DuckDB from streaming the batch
  (at 10M rows an incremental run with nothing new then spilled 6 GB). DuckDB may evaluate the
  conditions of the `and` for every row, hence try_cast.
#}
{% macro duckdb__json_object_or_null(text_expr) -%}
    case
        when length({{ text_expr }}) <= 50000
            and json_valid({{ text_expr }})
            and json_type(cast({{ text_expr }} as json)) = 'OBJECT'
            and {{ regex_full_match(text_expr, "'" ~ json_token_pattern() ~ "'") }}
            and {{ json_text_within_limits(text_expr) }}
            and len(list_distinct(json_keys(try_cast({{ text_expr }} as json))))
            = len(json_keys(try_cast({{ text_expr }} as json)))
            then cast({{ text_expr }} as json)
    end
{%- endmacro %}

{# one call, one parse per row: each call of a function with an exception block is a subtransaction #}
{% macro postgres__json_object_or_null(text_expr) -%}
    {{ target.schema }}.billing_try_json_object({{ text_expr }})
{%- endmacro %}

{#
  Spark: the text itself when it passes the same rules. A JSON value stays text on Spark and is parsed
  where a key is read (spark_json_member): a VARIANT cast from text would be a JSON string, not the
  object, which is also what a dbt unit test fixture gives. Spark's parser is RFC 8259 but reads the
  first value and ignores what follows it, and accepts \u0000: the token pattern (possessive, see
  json_token_pattern) refuses \u0000 and anything but tokens, and the text is parsed inside two
  wrappers: what follows a first complete object starts with ',' (the array holds two values), ']'
  (the object wrapper does not parse) or '}' (the array wrapper does not parse). json_object_keys
  lists a repeated key twice, the map (spark.sql.variant.allowDuplicateKeys) once.
#}
{% macro spark__json_object_or_null(text_expr) -%}
    case
        when length({{ text_expr }}) <= 50000
            and ({{ text_expr }} rlike {{ ("'^(?:" ~ json_token_pattern(possessive=true) ~ ")$'") | replace('\\', '\\\\') }})
            and {{ json_text_within_limits(text_expr) }}
            and json_array_length('[' || {{ text_expr }} || ']') = 1
            and schema_of_variant(try_parse_json('{"k": ' || {{ text_expr }} || '}')) like 'OBJECT<k: OBJECT<%'
            and size(json_object_keys({{ text_expr }}))
            = size(map_keys(cast(try_parse_json({{ text_expr }}) as map<string, variant>)))
            then {{ text_expr }}
    end
{%- endmacro %}

{# Text of one top-level key of a JSON object (null when missing); the key may be a column. #}
{% macro json_get_text(json_expr, key_expr) -%}
    {{ return(adapter.dispatch('json_get_text', 'warehouse_billing')(json_expr, key_expr)) }}
{%- endmacro %}

{% macro default__json_get_text(json_expr, key_expr) -%}
    ({{ json_expr }} ->> {{ key_expr }})
{%- endmacro %}

{# the key may be a column, and a JSON path cannot name every key ("a.b"): look it up in a map #}
{% macro spark__json_get_text(json_expr, key_expr) -%}
    variant_get({{ spark_json_member(json_expr, key_expr) }}, '$', 'string')
{%- endmacro %}

{# one member of a JSON object's text, as a VARIANT (null when missing) #}
{% macro spark_json_member(json_text_expr, key_expr) -%}
    try_element_at(cast(try_parse_json({{ json_text_expr }}) as map<string, variant>), {{ key_expr }})
{%- endmacro %}

{#
  The key's value as decimal(38, 10) when it is a JSON number that fits, else null. A numeric string
  ("12") is not a number: senders must send numbers (decision log).
#}
{% macro json_get_decimal(json_expr, key_expr) -%}
    {{ return(adapter.dispatch('json_get_decimal', 'warehouse_billing')(json_expr, key_expr)) }}
{%- endmacro %}

{% macro duckdb__json_get_decimal(json_expr, key_expr) -%}
    case
        when json_type({{ json_expr }} -> {{ key_expr }}) in ('UBIGINT', 'BIGINT', 'DOUBLE', 'HUGEINT')
            then try_cast({{ json_expr }} ->> {{ key_expr }} as decimal(38, 10))
    end
{%- endmacro %}

{% macro postgres__json_get_decimal(json_expr, key_expr) -%}
    case
        when jsonb_typeof({{ json_expr }} -> {{ key_expr }}) = 'number'
            then {{ target.schema }}.billing_try_decimal({{ json_expr }} ->> {{ key_expr }})
    end
{%- endmacro %}

{# schema_of_variant names integers BIGINT, JSON numbers with a fraction DECIMAL(p,s) or DOUBLE #}
{% macro spark__json_get_decimal(json_expr, key_expr) -%}
    case
        when schema_of_variant({{ spark_json_member(json_expr, key_expr) }}) in ('BIGINT', 'DOUBLE')
            or schema_of_variant({{ spark_json_member(json_expr, key_expr) }}) like 'DECIMAL(%'
            then try_variant_get({{ spark_json_member(json_expr, key_expr) }}, '$', 'decimal(38, 10)')
    end
{%- endmacro %}

{#
  ISO 8601 text to a UTC timestamp without time zone, or null. The shape is checked first because
  Postgres would otherwise accept words such as 'now' or 'epoch'.
#}
{% macro try_cast_timestamp_utc(text_expr) -%}
    case
        when {{ regex_full_match(
            "trim(" ~ text_expr ~ ")",
            "'[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\\.[0-9]{1,6})?)?)?(Z|[+-][0-9]{2}(:?[0-9]{2})?)?'"
        ) }}
            then {{ adapter.dispatch('try_cast_timestamp_utc', 'warehouse_billing')("trim(" ~ text_expr ~ ")") }}
    end
{%- endmacro %}

{% macro duckdb__try_cast_timestamp_utc(text_expr) -%}
    timezone('UTC', try_cast({{ text_expr }} as timestamptz))
{%- endmacro %}

{% macro postgres__try_cast_timestamp_utc(text_expr) -%}
    {{ target.schema }}.billing_try_timestamp_utc({{ text_expr }})
{%- endmacro %}

{# the session time zone is UTC (profiles.yml), which text without an offset is read in #}
{% macro spark__try_cast_timestamp_utc(text_expr) -%}
    try_cast({{ text_expr }} as timestamp)
{%- endmacro %}

{% macro regex_full_match(text_expr, pattern_literal) -%}
    {{ return(adapter.dispatch('regex_full_match', 'warehouse_billing')(text_expr, pattern_literal)) }}
{%- endmacro %}

{% macro duckdb__regex_full_match(text_expr, pattern_literal) -%}
    regexp_full_match({{ text_expr }}, {{ pattern_literal }})
{%- endmacro %}

{% macro postgres__regex_full_match(text_expr, pattern_literal) -%}
    ({{ text_expr }} ~ ('^(' || {{ pattern_literal }} || ')$'))
{%- endmacro %}

{# Spark reads backslashes in string literals as escapes: double them to keep the pattern's own. #}
{% macro spark__regex_full_match(text_expr, pattern_literal) -%}
    ({{ text_expr }} rlike ('^(' || {{ pattern_literal | replace('\\', '\\\\') }} || ')$'))
{%- endmacro %}

{# Keys of a JSON object as rows, for reference data only (seeds are small). #}
{% macro json_object_keys_count(json_text_expr) -%}
    {{ return(adapter.dispatch('json_object_keys_count', 'warehouse_billing')(json_text_expr)) }}
{%- endmacro %}

{% macro duckdb__json_object_keys_count(json_text_expr) -%}
    len(json_keys(cast({{ json_text_expr }} as json)))
{%- endmacro %}

{% macro postgres__json_object_keys_count(json_text_expr) -%}
    (select count(*) from jsonb_object_keys(cast({{ json_text_expr }} as jsonb)))
{%- endmacro %}

{# spark: text of a JSON object that does not parse is null, not an error #}
{% macro spark__json_object_keys_count(json_text_expr) -%}
    size(map_keys(cast(try_parse_json({{ json_text_expr }}) as map<string, variant>)))
{%- endmacro %}

{#
  A text value as a JSON string literal, for building the dimensions column: a backslash and a
  double quote are escaped with a backslash. A backslash is written '\' in Spark's string literals
  and '\' (plain) in DuckDB's and Postgres's.
#}
{% macro json_string_literal(text_expr) -%}
    {%- set backslash = '\\\\' if target.type == 'spark' else '\\' -%}
    case
        when {{ text_expr }} is null then 'null'
        else '"' || replace(replace({{ text_expr }}, '{{ backslash }}', '{{ backslash ~ backslash }}'), '"', '{{ backslash }}"') || '"'
    end
{%- endmacro %}

{#
  The dimensions column: a JSON object text of the metric's group_by keys, in the metric's key order,
  e.g. {"model": "large"}; {} for a metric without group_by. A missing property is null.
#}
{% macro dimensions_json(key_1, key_2, key_3, value_1, value_2, value_3) -%}
    (
        '{'
        || case when {{ key_1 }} is not null
            then {{ json_string_literal(key_1) }} || ': ' || {{ json_string_literal(value_1) }} else '' end
        || case when {{ key_2 }} is not null
            then ', ' || {{ json_string_literal(key_2) }} || ': ' || {{ json_string_literal(value_2) }} else '' end
        || case when {{ key_3 }} is not null
            then ', ' || {{ json_string_literal(key_3) }} || ': ' || {{ json_string_literal(value_3) }} else '' end
        || '}'
    )
{%- endmacro %}

{# The texts of a group joined by a separator, in ascending order (dbt's listagg cannot order on Spark). #}
{% macro sorted_text_agg(text_expr, separator_literal) -%}
    {{ return(adapter.dispatch('sorted_text_agg', 'warehouse_billing')(text_expr, separator_literal)) }}
{%- endmacro %}

{% macro default__sorted_text_agg(text_expr, separator_literal) -%}
    {{ dbt.listagg(text_expr, separator_literal, 'order by ' ~ text_expr) }}
{%- endmacro %}

{% macro spark__sorted_text_agg(text_expr, separator_literal) -%}
    array_join(array_sort(collect_list({{ text_expr }})), {{ separator_literal }})
{%- endmacro %}

{#
  Pre-hook for models whose CTEs Postgres must materialize (a CTE read twice): it estimates such a CTE
  at one row and then loops over it once per outer row. For int_usage_daily_price_matches that turned a
  0.3 s query into minutes on the demo slice; hash joins are right for every join there.
  `set local` lasts for the model's own transaction only.
#}
{% macro hash_joins_only() -%}
    {{ return(adapter.dispatch('hash_joins_only', 'warehouse_billing')()) }}
{%- endmacro %}

{% macro default__hash_joins_only() -%}
    {#- nothing to run: dbt skips a hook that renders empty -#}
{%- endmacro %}

{% macro postgres__hash_joins_only() -%}
    set local enable_nestloop = off
{%- endmacro %}

{# timestamp + n calendar months (n may be a column); month ends clamp, e.g. Jan 31 + 1 month = Feb 28. #}
{% macro add_months(timestamp_expr, months_expr) -%}
    cast({{ dbt.dateadd('month', months_expr, timestamp_expr) }} as timestamp)
{%- endmacro %}

{#
  Indexes for the incremental models on Postgres, where delete+insert and the dedupe lookup probe
  them; DuckDB gets none (its zone maps serve the same range filters, and an index would slow every
  insert and hold memory).
#}
{% macro postgres_indexes(column_lists) -%}
    {%- set indexes = [] -%}
    {%- if target.type == 'postgres' -%}
        {%- for columns in column_lists -%}
            {%- do indexes.append({'columns': columns}) -%}
        {%- endfor -%}
    {%- endif -%}
    {{ return(indexes) }}
{%- endmacro %}

{#
  The instant one microsecond after a timestamp: "in force just before this" then means "in force at the
  timestamp itself" (an opening invoice's terms, SPEC 6.2). dbt's dateadd on Spark works in whole
  seconds, so it would add nothing here.
#}
{% macro one_microsecond_after(timestamp_expr) -%}
    {{ return(adapter.dispatch('one_microsecond_after', 'warehouse_billing')(timestamp_expr)) }}
{%- endmacro %}

{% macro default__one_microsecond_after(timestamp_expr) -%}
    ({{ timestamp_expr }} + interval '1 microsecond')
{%- endmacro %}

{% macro spark__one_microsecond_after(timestamp_expr) -%}
    ({{ timestamp_expr }} + interval 1 microsecond)
{%- endmacro %}

{#
  dbt's dateadd by whole hours or days, keeping the timestamp's fraction of a second on every warehouse:
  dbt-spark's dateadd goes through unix seconds for `hour` and `day` and drops it (a threshold invoice,
  issued at an event's ingested_at, keeps its microseconds in closes_at and due_at).
#}
{% macro dateadd_keeping_fraction(datepart, interval, timestamp_expr) -%}
    {{ return(adapter.dispatch('dateadd_keeping_fraction', 'warehouse_billing')(datepart, interval, timestamp_expr)) }}
{%- endmacro %}

{% macro default__dateadd_keeping_fraction(datepart, interval, timestamp_expr) -%}
    {{ dbt.dateadd(datepart, interval, timestamp_expr) }}
{%- endmacro %}

{% macro spark__dateadd_keeping_fraction(datepart, interval, timestamp_expr) -%}
    {%- if datepart not in ('hour', 'day') -%}
        {{ exceptions.raise_compiler_error("dateadd_keeping_fraction takes hour or day, not " ~ datepart) }}
    {%- endif -%}
    {%- set whole = 'cast(' ~ interval ~ ' as int)' -%}
    ({{ timestamp_expr }} + make_interval(
        0, 0, 0, {{ whole if datepart == 'day' else '0' }}, {{ whole if datepart == 'hour' else '0' }}, 0, 0
    ))
{%- endmacro %}
