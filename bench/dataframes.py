"""The same full build and incremental step as the floor, in pandas and (when importable) polars.

    python -m bench.dataframes --lib pandas|polars --step full|incremental --raw FILE.parquet \
        --state DIR --seeds DIR --as-of TS

A batch job over files, as a dataframe pipeline runs in production: the full build reads the raw rows
(Parquet, exported untimed from the generated data), deduplicates, parses, aggregates per day, rates
every period and writes its state (accepted events, daily usage, distinct users per period, invoice
lines) as Parquet under --state. The incremental step reads the new day's raw rows and the state it
needs (the accepted event ids, the accepted events of the affected days), and rewrites the small state.

Semantics are the floor's (bench/floor_duckdb.sql): first copy by ingested_at then the project's payload
md5 wins; six metrics; the model dimension; unit/graduated/volume/package prices; zero-usage lines; the
flat recurring fee; each line rounded to cents half away from zero. Exact arithmetic without decimals:
event values are held as int64 scaled by 10 (the generated data have at most one decimal place; a value
with more fails loudly), prices as int64 scaled by 10^10, and amounts as int64 in 10^-11 units.

JSON properties are parsed by pyarrow's JSON reader (pandas) and by str.json_decode (polars) with an
explicit schema: json.loads per row would be ~10x slower. Rating runs on the small per-period table;
both libraries share that step (`rate`, pandas/numpy), the per-event work is each library's own.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
import time
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.json as pj
import pyarrow.parquet as pq

VALUE_SCALE = 10            # event values: int64 x 10
PRICE_SCALE = 10**10        # prices: int64 x 10^10
AMOUNT_TO_CENTS = 10**9     # amounts are value(x10) * price(x10^10) = 10^-11 units; a cent is 10^9 of them
METRICS = ("input_tokens", "output_tokens", "api_requests", "active_users", "storage_gb", "seats")
PROPERTY_SCHEMA = pa.schema([
    ("tokens", pa.int64()), ("model", pa.string()), ("direction", pa.string()),
    ("user_id", pa.string()), ("gb", pa.float64()), ("seats", pa.int64()),
])


def parse_ts(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "").replace("T", " "))


def payload_md5(event_id, customer_id, event_type, occurred_at, properties) -> str:
    """The project's event_payload_hash (stg_raw__usage_events), the tie-breaker of equal ingested_at."""
    parts = [("v" + v) if v is not None else "n" for v in (event_id, customer_id, event_type, occurred_at, properties)]
    return hashlib.md5("|".join(parts).encode()).hexdigest()


# --- reference data and rating (shared; small tables) ------------------------------------------------

def scaled(value: str, scale: int) -> int | None:
    if value is None or value == "" or (isinstance(value, float) and np.isnan(value)):
        return None
    exact = Decimal(value) * scale
    if exact != exact.to_integral_value():
        raise ValueError(f"{value} does not fit a scale of {scale}")
    return int(exact)


def load_reference(seeds: Path, as_of: datetime) -> dict[str, pd.DataFrame]:
    contracts = pd.read_csv(seeds / "contracts.csv", dtype=str, keep_default_na=False)
    contracts["starts_at"] = pd.to_datetime(contracts["starts_at"])
    contracts["ends_at"] = pd.to_datetime(contracts["ends_at"].replace("", None))
    prices = pd.read_csv(seeds / "prices.csv", dtype=str, keep_default_na=False)
    prices = prices[prices["contract_id"] == ""].drop(columns=["contract_id"]).copy()
    prices["dim_model"] = [json.loads(d).get("model") if d else None for d in prices["dimensions"]]
    prices["specificity"] = prices["dim_model"].notna().astype(int)
    for column in ("unit_price", "flat_amount", "free_units", "package_size"):
        prices[column + "_s"] = pd.array([scaled(v, PRICE_SCALE) for v in prices[column]], dtype="Int64")
    prices["free_units_s"] = prices["free_units_s"].fillna(0)
    prices["package_rounding"] = prices["package_rounding"].replace("", "up")
    tiers = pd.read_csv(seeds / "price_tiers.csv", dtype=str, keep_default_na=False)
    tiers["tier"] = tiers["tier"].astype(int)
    tiers = tiers.sort_values(["price_id", "tier"])
    # tier bounds and quantities are both compared on the value scale (x10)
    tiers["up_to_v"] = pd.array([scaled(v, VALUE_SCALE) for v in tiers["up_to"]], dtype="Int64")
    tiers["lower_v"] = tiers.groupby("price_id")["up_to_v"].shift(1).fillna(0).astype("Int64")
    tiers["unit_s"] = pd.array([scaled(v, PRICE_SCALE) or 0 for v in tiers["unit_price"]], dtype="Int64")
    tiers["flat_s"] = pd.array([scaled(v, PRICE_SCALE) or 0 for v in tiers["flat_fee"]], dtype="Int64")
    tiers = tiers[["price_id", "tier", "up_to_v", "lower_v", "unit_s", "flat_s"]]
    rows = []
    for contract in contracts.itertuples():
        start = contract.starts_at.to_period("M").to_timestamp()
        for period_start in pd.date_range(start, as_of, freq="MS"):
            if pd.isna(contract.ends_at) or period_start < contract.ends_at:
                rows.append((contract.contract_id, contract.rate_card_id, period_start))
    periods = pd.DataFrame(rows, columns=["contract_id", "rate_card_id", "period_start"])
    return {"contracts": contracts, "prices": prices, "tiers": tiers, "periods": periods}


def rate(quantities: pd.DataFrame, periods: pd.DataFrame, ref: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Invoice lines of `periods` from quantities (contract_id, period_start, metric_id, model, q)."""
    prices, tiers = ref["prices"], ref["tiers"]
    quantities = quantities.assign(period_start=pd.to_datetime(quantities["period_start"]).astype("datetime64[us]"))
    periods = periods.assign(period_start=pd.to_datetime(periods["period_start"]).astype("datetime64[us]"))
    usage_prices = prices[prices["charge_type"] == "usage"]
    groups = quantities.merge(periods, on=["contract_id", "period_start"])
    candidates = groups.merge(usage_prices, on=["rate_card_id", "metric_id"])
    candidates = candidates[candidates["dim_model"].isna() | (candidates["dim_model"] == candidates["model"])]
    candidates = candidates.sort_values(["specificity", "price_id"], ascending=[False, True])
    keys = ["contract_id", "period_start", "metric_id", "model", "product_id"]
    matched = candidates.drop_duplicates(keys, keep="first")
    used = matched[["contract_id", "period_start", "product_id"]].drop_duplicates()
    fallback = periods.merge(usage_prices[usage_prices["specificity"] == 0], on="rate_card_id")
    fallback = fallback.merge(used, on=["contract_id", "period_start", "product_id"], how="left", indicator=True)
    fallback = fallback[fallback["_merge"] == "left_only"].drop(columns="_merge")
    fallback["model"] = None
    fallback["q"] = 0
    columns = ["contract_id", "period_start", "model", "q", "price_id", "product_id", "pricing_model",
               "unit_price_s", "free_units_s", "package_size_s", "package_rounding"]
    lines = pd.concat([matched[columns], fallback[columns]], ignore_index=True)
    lines["q"] = lines["q"].astype("int64")
    lines["line"] = np.arange(len(lines))
    amount = np.zeros(len(lines), dtype=object)  # python ints: exact
    q = lines["q"].to_numpy(dtype=np.int64)
    free_v = (lines["free_units_s"].fillna(0).to_numpy(dtype=np.int64) // (PRICE_SCALE // VALUE_SCALE))
    unit = lines["unit_price_s"].fillna(0).to_numpy(dtype=np.int64)
    model = lines["pricing_model"].to_numpy()
    is_unit = model == "unit"
    amount[is_unit] = np.maximum(q[is_unit] - free_v[is_unit], 0) * unit[is_unit]
    is_package = model == "package"
    if is_package.any():
        size_v = lines["package_size_s"].fillna(1).to_numpy(dtype=np.int64) // (PRICE_SCALE // VALUE_SCALE)
        billable = np.maximum(q - free_v, 0)
        up = lines["package_rounding"].to_numpy() != "down"
        packages = np.where(up, -(-billable // np.maximum(size_v, 1)), billable // np.maximum(size_v, 1))
        amount[is_package] = packages[is_package] * unit[is_package] * VALUE_SCALE
    tiered = lines[model == "graduated"].merge(tiers, on="price_id")
    if len(tiered):
        tiered = tiered[(tiered["tier"] == 1) | (tiered["q"] > tiered["lower_v"])]
        upper = tiered["up_to_v"].fillna(tiered["q"]).clip(upper=tiered["q"]).astype("int64")
        tiered = tiered.assign(part=tiered["flat_s"] * VALUE_SCALE + tiered["unit_s"] * (upper - tiered["lower_v"]))
        sums = tiered.groupby("line")["part"].sum()
        amount[sums.index.to_numpy()] = sums.to_numpy()
    volume = lines[model == "volume"].merge(tiers, on="price_id")
    if len(volume):
        holds = ((volume["tier"] == 1) | (volume["q"] > volume["lower_v"])) & (
            volume["up_to_v"].isna() | (volume["q"] <= volume["up_to_v"]))
        volume = volume[holds]
        amount[volume["line"].to_numpy()] = (volume["flat_s"] * VALUE_SCALE + volume["q"] * volume["unit_s"]).to_numpy()
    amounts = np.array([int(a) for a in amount], dtype=np.int64)
    lines["amount_cents"] = (amounts + AMOUNT_TO_CENTS // 2) // AMOUNT_TO_CENTS  # all amounts are >= 0
    lines["line_type"] = "usage"
    recurring = periods.merge(prices[prices["charge_type"] == "recurring"], on="rate_card_id")
    recurring = recurring.assign(
        line_type="recurring", model=None, q=VALUE_SCALE,
        amount_cents=(recurring["flat_amount_s"].astype("int64") * VALUE_SCALE + AMOUNT_TO_CENTS // 2)
        // AMOUNT_TO_CENTS,
    )
    out = ["contract_id", "period_start", "line_type", "product_id", "price_id", "model", "q", "amount_cents"]
    return pd.concat([lines[out], recurring[out]], ignore_index=True)


def check_value_scale(values: pa.Array, name: str) -> None:
    if pc.any(pc.not_equal(pc.round(pc.multiply(values, VALUE_SCALE)), pc.multiply(values, VALUE_SCALE))).as_py():
        raise ValueError(f"{name} has more than one decimal place: extend VALUE_SCALE")


# --- pandas ------------------------------------------------------------------------------------------

def pd_read_raw(path: Path, after: datetime | None, until: datetime) -> pd.DataFrame:
    filters = [("ingested_at", "<=", until)]
    if after is not None:
        filters.append(("ingested_at", ">", after))
    return pd.read_parquet(path, filters=filters)


def pd_dedupe(raw: pd.DataFrame) -> pd.DataFrame:
    """Keep the first copy of every event_id; only the ids seen more than once are sorted."""
    dup = raw["event_id"].duplicated(keep=False).to_numpy()
    if not dup.any():
        return raw
    copies = raw[dup]
    copies = copies.assign(payload_md5=[
        payload_md5(*row) for row in copies[["event_id", "customer_id", "event_type", "occurred_at",
                                             "properties"]].itertuples(index=False, name=None)
    ])
    copies = copies.sort_values(["event_id", "ingested_at", "payload_md5"], kind="stable")
    later = copies.index[copies["event_id"].duplicated(keep="first").to_numpy()]
    return raw.drop(index=later)


def parse_properties(properties: pd.Series) -> pa.Table:
    """Parse JSON texts with pyarrow's JSON reader: join them with newlines without copying per row."""
    arr = pa.array(properties).cast(pa.large_string())
    tables = []
    step = 2_000_000  # bound the joined copy's size
    for start in range(0, len(arr), step):
        chunk = arr.slice(start, step)
        joined = pc.binary_join_element_wise(chunk, pa.scalar("", pa.large_string()), pa.scalar("\n", pa.large_string()))
        offsets = np.frombuffer(joined.buffers()[1], dtype=np.int64)[joined.offset:joined.offset + len(joined) + 1]
        data = joined.buffers()[2].slice(int(offsets[0]), int(offsets[-1] - offsets[0]))
        tables.append(pj.read_json(pa.BufferReader(data), parse_options=pj.ParseOptions(
            explicit_schema=PROPERTY_SCHEMA, unexpected_field_behavior="ignore")))
    return pa.concat_tables(tables)


def pd_accept(raw: pd.DataFrame, ref: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Typed accepted events: contract, metric, model, value (x10), user_id, day, period."""
    props = parse_properties(raw["properties"])
    check_value_scale(props.column("gb"), "gb")
    event_type = raw["event_type"].to_numpy()
    direction = props.column("direction").to_numpy(zero_copy_only=False)
    metric = np.select(
        [(event_type == "tokens") & (direction == "input"), (event_type == "tokens") & (direction == "output"),
         event_type == "api_request", event_type == "storage_snapshot", event_type == "seat_count"],
        ["input_tokens", "output_tokens", "api_requests", "storage_gb", "seats"], default=None)
    tokens = props.column("tokens").to_numpy(zero_copy_only=False)
    gb = props.column("gb").to_numpy(zero_copy_only=False)
    seats = props.column("seats").to_numpy(zero_copy_only=False)
    value = np.select([event_type == "tokens", event_type == "storage_snapshot", event_type == "seat_count"],
                      [tokens * VALUE_SCALE, np.round(gb * VALUE_SCALE), seats * VALUE_SCALE], default=np.nan)
    occurred = pd.to_datetime(raw["occurred_at"], format="ISO8601", utc=True).dt.tz_localize(None)
    events = pd.DataFrame({
        "event_id": raw["event_id"].to_numpy(),
        "customer_id": raw["customer_id"].to_numpy(),
        "occurred_at": occurred.to_numpy(),
        "metric_id": metric,
        "model": np.where(event_type == "tokens", props.column("model").to_numpy(zero_copy_only=False), None),
        "value": pd.array(value, dtype="Int64"),
        "user_id": np.where(event_type == "api_request", props.column("user_id").to_numpy(zero_copy_only=False),
                            None),
    })
    contracts = ref["contracts"][["customer_id", "contract_id", "starts_at", "ends_at"]]
    events = events.merge(contracts, on="customer_id")
    events = events[(events["occurred_at"] >= events["starts_at"])
                    & (events["ends_at"].isna() | (events["occurred_at"] < events["ends_at"]))]
    events = events.drop(columns=["customer_id", "starts_at", "ends_at"])
    events["usage_day"] = events["occurred_at"].dt.floor("D")
    return events


def pd_daily(events: pd.DataFrame) -> pd.DataFrame:
    metered = events[events["metric_id"].notna()]
    keys = ["contract_id", "usage_day", "metric_id", "model"]
    daily = metered.groupby(keys, dropna=False, sort=False).agg(
        event_count=("value", "size"), value_sum=("value", "sum"), value_max=("value", "max")).reset_index()
    seats = metered[metered["metric_id"] == "seats"].sort_values(["occurred_at", "event_id"])
    latest = seats.groupby(keys, dropna=False, sort=False).agg(
        latest_at=("occurred_at", "last"), latest_event_id=("event_id", "last"),
        latest_value=("value", "last")).reset_index()
    daily = daily.merge(latest, on=keys, how="left")
    daily["period_start"] = daily["usage_day"].dt.to_period("M").dt.to_timestamp()
    return daily


def pd_period_users(events: pd.DataFrame) -> pd.DataFrame:
    api = events[events["metric_id"] == "api_requests"]
    users = pd.DataFrame({"contract_id": api["contract_id"].to_numpy(),
                          "period_start": api["usage_day"].dt.to_period("M").dt.to_timestamp().to_numpy(),
                          "user_id": api["user_id"].to_numpy()})
    return users.drop_duplicates()


def pd_quantities(daily: pd.DataFrame, users: pd.DataFrame, periods: pd.DataFrame) -> pd.DataFrame:
    """Period quantities (value scale) for `periods`, with the seat count carried forward."""
    scope = daily[daily["period_start"].isin(periods["period_start"].unique())]
    keys = ["contract_id", "period_start", "metric_id", "model"]
    sums = scope.groupby(keys, dropna=False, sort=False).agg(
        count=("event_count", "sum"), total=("value_sum", "sum"), peak=("value_max", "max")).reset_index()
    metric = sums["metric_id"].to_numpy()
    sums["q"] = np.where(metric == "api_requests", sums["count"] * VALUE_SCALE,
                         np.where(metric == "storage_gb", sums["peak"], sums["total"]))
    sums = sums[metric != "seats"]
    seats_all = daily[daily["metric_id"] == "seats"].sort_values(["latest_at", "latest_event_id"])
    seats_in = seats_all[seats_all["period_start"].isin(periods["period_start"].unique())]
    seat_q = seats_in.groupby(["contract_id", "period_start"], sort=False).agg(q=("latest_value", "last")).reset_index()
    # carry forward: the last seat count before the period, for periods without a seat event
    without = periods.merge(seat_q[["contract_id", "period_start"]], how="left", indicator=True)
    without = without[without["_merge"] == "left_only"][["contract_id", "period_start"]]
    before = seats_all.merge(without, on="contract_id", suffixes=("_event", ""))
    before = before[before["usage_day"] < before["period_start"]].sort_values(["latest_at", "latest_event_id"])
    carried = before.groupby(["contract_id", "period_start"], sort=False).agg(q=("latest_value", "last")).reset_index()
    seat_rows = pd.concat([seat_q, carried], ignore_index=True).assign(metric_id="seats", model=None)
    scoped_users = users[users["period_start"].isin(periods["period_start"].unique())]
    user_counts = scoped_users.groupby(["contract_id", "period_start"], sort=False).size().reset_index(name="q")
    user_counts = user_counts.assign(metric_id="active_users", model=None, q=user_counts["q"] * VALUE_SCALE)
    columns = ["contract_id", "period_start", "metric_id", "model", "q"]
    out = pd.concat([sums[columns], seat_rows[columns], user_counts[columns]], ignore_index=True)
    out["q"] = out["q"].astype("int64")
    return out


def pd_full(raw_path: Path, state: Path, seeds: Path, as_of: datetime) -> dict:
    ref = load_reference(seeds, as_of)
    raw = pd_dedupe(pd_read_raw(raw_path, None, as_of))
    events = pd_accept(raw, ref)
    daily = pd_daily(events)
    users = pd_period_users(events)
    lines = rate(pd_quantities(daily, users, ref["periods"]), ref["periods"], ref)
    if state.exists():
        shutil.rmtree(state)
    (state / "accepted").mkdir(parents=True)
    events.to_parquet(state / "accepted" / "part-0.parquet", index=False, row_group_size=500_000)
    daily.to_parquet(state / "daily.parquet", index=False)
    users.to_parquet(state / "period_users.parquet", index=False)
    lines.to_parquet(state / "lines.parquet", index=False)
    (state / "state.json").write_text(json.dumps({"watermark": as_of.isoformat(), "parts": 1}))
    return {"accepted": len(events), "lines": len(lines)}


def pd_incremental(raw_path: Path, state: Path, seeds: Path, as_of: datetime) -> dict:
    ref = load_reference(seeds, as_of)
    meta = json.loads((state / "state.json").read_text())
    batch = pd_dedupe(pd_read_raw(raw_path, datetime.fromisoformat(meta["watermark"]), as_of))
    # pandas 3's isin on arrow strings loops in Python (9 s for 1M ids): use pyarrow's hash kernels, and
    # hash the small side (the batch) while scanning the history's ids
    history_ids = pq.read_table(state / "accepted", columns=["event_id"]).column("event_id")
    batch_ids = pa.array(batch["event_id"]).cast(history_ids.type)
    seen = pc.filter(history_ids, pc.is_in(history_ids, value_set=batch_ids))
    batch = batch[~pc.is_in(batch_ids, value_set=seen.combine_chunks()).to_numpy(zero_copy_only=False)]
    events = pd_accept(batch, ref)
    events.to_parquet(state / "accepted" / f"part-{meta['parts']}.parquet", index=False)
    affected = sorted(events.loc[events["metric_id"].notna(), "usage_day"].unique())
    day_events = pd.read_parquet(state / "accepted", filters=[("usage_day", "in", [pd.Timestamp(d) for d in affected])])
    daily = pd.read_parquet(state / "daily.parquet")
    daily = pd.concat([daily[~daily["usage_day"].isin(affected)], pd_daily(day_events)], ignore_index=True)
    users = pd.concat([pd.read_parquet(state / "period_users.parquet"), pd_period_users(events)]).drop_duplicates()
    lines = pd.read_parquet(state / "lines.parquet")
    periods = ref["periods"]
    rate_starts = set(pd.to_datetime(pd.Series(affected)).dt.to_period("M").dt.to_timestamp())
    rate_starts |= set(periods["period_start"]) - set(lines["period_start"])
    scope = periods[periods["period_start"].isin(rate_starts)]
    new_lines = rate(pd_quantities(daily, users, scope), scope, ref)
    lines = pd.concat([lines[~lines["period_start"].isin(rate_starts)], new_lines], ignore_index=True)
    daily.to_parquet(state / "daily.parquet", index=False)
    users.to_parquet(state / "period_users.parquet", index=False)
    lines.to_parquet(state / "lines.parquet", index=False)
    (state / "state.json").write_text(json.dumps({"watermark": as_of.isoformat(), "parts": meta["parts"] + 1}))
    return {"accepted": len(events), "lines": len(lines)}


# --- polars ------------------------------------------------------------------------------------------

def pl_module():
    import polars as pl  # noqa: PLC0415 (optional dependency)

    return pl


def pl_dedupe(pl, raw):
    dup = raw.filter(pl.col("event_id").is_duplicated())
    if dup.height == 0:
        return raw
    md5 = [payload_md5(*row) for row in dup.select(
        "event_id", "customer_id", "event_type", "occurred_at", "properties").iter_rows()]
    dup = dup.with_columns(pl.Series("payload_md5", md5)).sort(["event_id", "ingested_at", "payload_md5"])
    later = dup.filter(pl.col("event_id").is_first_distinct().not_()).select("__row")
    return raw.join(later, on="__row", how="anti")


def pl_accept(pl, raw, ref):
    props = pl.Struct({"tokens": pl.Int64, "model": pl.String, "direction": pl.String, "user_id": pl.String,
                       "gb": pl.Float64, "seats": pl.Int64})
    parsed = raw.with_columns(
        pl.col("properties").str.json_decode(dtype=props).alias("p"),
        pl.col("occurred_at").str.to_datetime("%Y-%m-%dT%H:%M:%S%.fZ", time_unit="us").alias("occurred_at"),
    ).unnest("p")
    gb_x = parsed.get_column("gb").drop_nulls()
    if gb_x.len() and ((gb_x * VALUE_SCALE).round() != gb_x * VALUE_SCALE).any():
        raise ValueError("gb has more than one decimal place: extend VALUE_SCALE")
    et = pl.col("event_type")
    events = parsed.select(
        "event_id", "customer_id", "occurred_at",
        pl.when((et == "tokens") & (pl.col("direction") == "input")).then(pl.lit("input_tokens"))
        .when((et == "tokens") & (pl.col("direction") == "output")).then(pl.lit("output_tokens"))
        .when(et == "api_request").then(pl.lit("api_requests"))
        .when(et == "storage_snapshot").then(pl.lit("storage_gb"))
        .when(et == "seat_count").then(pl.lit("seats")).alias("metric_id"),
        pl.when(et == "tokens").then(pl.col("model")).alias("model"),
        pl.when(et == "tokens").then(pl.col("tokens") * VALUE_SCALE)
        .when(et == "storage_snapshot").then((pl.col("gb") * VALUE_SCALE).round().cast(pl.Int64))
        .when(et == "seat_count").then(pl.col("seats") * VALUE_SCALE).alias("value"),
        pl.when(et == "api_request").then(pl.col("user_id")).alias("user_id"),
    )
    contracts = pl.from_pandas(ref["contracts"][["customer_id", "contract_id", "starts_at", "ends_at"]]).with_columns(
        pl.col("starts_at").cast(pl.Datetime("us")), pl.col("ends_at").cast(pl.Datetime("us")))
    events = events.join(contracts, on="customer_id").filter(
        (pl.col("occurred_at") >= pl.col("starts_at"))
        & (pl.col("ends_at").is_null() | (pl.col("occurred_at") < pl.col("ends_at")))
    ).drop("customer_id", "starts_at", "ends_at")
    return events.with_columns(pl.col("occurred_at").dt.truncate("1d").alias("usage_day"))


def pl_daily(pl, events):
    keys = ["contract_id", "usage_day", "metric_id", "model"]
    metered = events.filter(pl.col("metric_id").is_not_null())
    daily = metered.group_by(keys).agg(
        pl.len().alias("event_count"), pl.col("value").sum().alias("value_sum"),
        pl.col("value").max().alias("value_max"))
    latest = metered.filter(pl.col("metric_id") == "seats").sort(["occurred_at", "event_id"]).group_by(keys).agg(
        pl.col("occurred_at").last().alias("latest_at"), pl.col("event_id").last().alias("latest_event_id"),
        pl.col("value").last().alias("latest_value"))
    daily = daily.join(latest, on=keys, how="left", nulls_equal=True)
    return daily.with_columns(pl.col("usage_day").dt.truncate("1mo").alias("period_start"))


def pl_period_users(pl, events):
    return events.filter(pl.col("metric_id") == "api_requests").select(
        "contract_id", pl.col("usage_day").dt.truncate("1mo").alias("period_start"), "user_id").unique()


def pl_quantities(pl, daily, users, periods_pd):
    starts = list(periods_pd["period_start"].unique())
    periods = pl.from_pandas(periods_pd[["contract_id", "period_start"]]).with_columns(
        pl.col("period_start").cast(pl.Datetime("us")))
    scope = daily.filter(pl.col("period_start").is_in(starts))
    sums = scope.filter(pl.col("metric_id") != "seats").group_by(
        ["contract_id", "period_start", "metric_id", "model"]).agg(
        pl.col("event_count").sum().alias("count"), pl.col("value_sum").sum().alias("total"),
        pl.col("value_max").max().alias("peak"))
    sums = sums.select("contract_id", "period_start", "metric_id", "model",
                       pl.when(pl.col("metric_id") == "api_requests").then(pl.col("count") * VALUE_SCALE)
                       .when(pl.col("metric_id") == "storage_gb").then(pl.col("peak"))
                       .otherwise(pl.col("total")).cast(pl.Int64).alias("q"))
    seats_all = daily.filter(pl.col("metric_id") == "seats").sort(["latest_at", "latest_event_id"])
    seat_q = seats_all.filter(pl.col("period_start").is_in(starts)).group_by(["contract_id", "period_start"]).agg(
        pl.col("latest_value").last().alias("q"))
    without = periods.join(seat_q.select("contract_id", "period_start"), on=["contract_id", "period_start"],
                           how="anti")
    carried = seats_all.select("contract_id", "usage_day", "latest_at", "latest_event_id", "latest_value").join(
        without, on="contract_id").filter(pl.col("usage_day") < pl.col("period_start")).sort(
        ["latest_at", "latest_event_id"]).group_by(["contract_id", "period_start"]).agg(
        pl.col("latest_value").last().alias("q"))
    seat_rows = pl.concat([seat_q, carried]).with_columns(
        pl.lit("seats").alias("metric_id"), pl.lit(None, dtype=pl.String).alias("model"))
    user_rows = users.filter(pl.col("period_start").is_in(starts)).group_by(["contract_id", "period_start"]).agg(
        (pl.len() * VALUE_SCALE).cast(pl.Int64).alias("q")).with_columns(
        pl.lit("active_users").alias("metric_id"), pl.lit(None, dtype=pl.String).alias("model"))
    columns = ["contract_id", "period_start", "metric_id", "model", "q"]
    out = pl.concat([sums.select(columns), seat_rows.select(columns).with_columns(pl.col("q").cast(pl.Int64)),
                     user_rows.select(columns)])
    result = out.to_pandas()
    result["period_start"] = pd.to_datetime(result["period_start"]).astype("datetime64[us]")
    return result


def pl_read_raw(pl, path: Path, after: datetime | None, until: datetime):
    scan = pl.scan_parquet(path).filter(pl.col("ingested_at") <= until)
    if after is not None:
        scan = scan.filter(pl.col("ingested_at") > after)
    return scan.collect().with_row_index("__row")


def pl_full(raw_path: Path, state: Path, seeds: Path, as_of: datetime) -> dict:
    pl = pl_module()
    ref = load_reference(seeds, as_of)
    ref["periods"]["period_start"] = ref["periods"]["period_start"].astype("datetime64[us]")
    raw = pl_dedupe(pl, pl_read_raw(pl, raw_path, None, as_of))
    events = pl_accept(pl, raw, ref)
    daily = pl_daily(pl, events)
    users = pl_period_users(pl, events)
    lines = rate(pl_quantities(pl, daily, users, ref["periods"]), ref["periods"], ref)
    if state.exists():
        shutil.rmtree(state)
    (state / "accepted").mkdir(parents=True)
    events.write_parquet(state / "accepted" / "part-0.parquet", row_group_size=500_000)
    daily.write_parquet(state / "daily.parquet")
    users.write_parquet(state / "period_users.parquet")
    lines.to_parquet(state / "lines.parquet", index=False)
    (state / "state.json").write_text(json.dumps({"watermark": as_of.isoformat(), "parts": 1}))
    return {"accepted": events.height, "lines": len(lines)}


def pl_incremental(raw_path: Path, state: Path, seeds: Path, as_of: datetime) -> dict:
    pl = pl_module()
    ref = load_reference(seeds, as_of)
    ref["periods"]["period_start"] = ref["periods"]["period_start"].astype("datetime64[us]")
    meta = json.loads((state / "state.json").read_text())
    batch = pl_dedupe(pl, pl_read_raw(pl, raw_path, datetime.fromisoformat(meta["watermark"]), as_of))
    history_ids = pl.scan_parquet(state / "accepted" / "*.parquet").select("event_id")
    batch = batch.lazy().join(history_ids, on="event_id", how="anti").collect()
    events = pl_accept(pl, batch, ref)
    events.write_parquet(state / "accepted" / f"part-{meta['parts']}.parquet")
    affected = events.filter(pl.col("metric_id").is_not_null()).get_column("usage_day").unique().to_list()
    day_events = pl.scan_parquet(state / "accepted" / "*.parquet").filter(pl.col("usage_day").is_in(affected)).collect()
    daily = pl.read_parquet(state / "daily.parquet")
    daily = pl.concat([daily.filter(pl.col("usage_day").is_in(affected).not_()),
                       pl_daily(pl, day_events).select(daily.columns)])
    users = pl.concat([pl.read_parquet(state / "period_users.parquet"), pl_period_users(pl, events)]).unique()
    lines = pd.read_parquet(state / "lines.parquet")
    periods = ref["periods"]
    rate_starts = {pd.Timestamp(d).to_period("M").to_timestamp() for d in affected}
    rate_starts |= set(periods["period_start"]) - set(lines["period_start"])
    scope = periods[periods["period_start"].isin(rate_starts)]
    new_lines = rate(pl_quantities(pl, daily, users, scope), scope, ref)
    lines = pd.concat([lines[~lines["period_start"].isin(rate_starts)], new_lines], ignore_index=True)
    daily.write_parquet(state / "daily.parquet")
    users.write_parquet(state / "period_users.parquet")
    lines.to_parquet(state / "lines.parquet", index=False)
    (state / "state.json").write_text(json.dumps({"watermark": as_of.isoformat(), "parts": meta["parts"] + 1}))
    return {"accepted": events.height, "lines": len(lines)}


def polars_available() -> str | None:
    """polars' version when it imports, else None."""
    try:
        import polars  # noqa: PLC0415
    except ImportError:
        return None
    return polars.__version__


STEPS = {
    ("pandas", "full"): pd_full, ("pandas", "incremental"): pd_incremental,
    ("polars", "full"): pl_full, ("polars", "incremental"): pl_incremental,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lib", choices=("pandas", "polars"), required=True)
    parser.add_argument("--step", choices=("full", "incremental"), required=True)
    parser.add_argument("--raw", required=True)
    parser.add_argument("--state", required=True)
    parser.add_argument("--seeds", required=True)
    parser.add_argument("--as-of", required=True)
    parser.add_argument("--timings")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    info = STEPS[(args.lib, args.step)](Path(args.raw), Path(args.state), Path(args.seeds), parse_ts(args.as_of))
    seconds = time.perf_counter() - start
    info["seconds"] = round(seconds, 3)
    if args.timings:
        Path(args.timings).write_text(json.dumps(info))
    print(f"{args.lib} {args.step}: {seconds:.2f} s {info}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
