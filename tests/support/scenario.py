"""The contract scenario (tests/scenarios/contracts): its seeds, its usage events, and its builds.

Four customers, three months, every invoice line written down by hand in test_contract_scenario.py.
Several test files start from this small scenario because it builds in seconds: the publication
guarantees, late events, concurrency, bad input and bad reference data.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path

from support.projects import copy_project
from support.publishing import BILLING_ONLY
from support.warehouse import Warehouse, land_rows, postgres_database

SCENARIO_SEEDS = Path(__file__).resolve().parents[1] / "scenarios" / "contracts"
AS_OF = "2026-04-02T00:00:00"


def scenario_events() -> list[dict]:
    """The scenario's usage: raw rows for four customers over January to March 2026."""
    rows: list[dict] = []

    def emit(customer: str, when: str, event_type: str, count: int = 1, **properties: object) -> None:
        moment = datetime.fromisoformat(when)
        for index in range(count):
            rows.append({
                "event_id": f"{customer}-{event_type}-{when}-{index}-{len(rows)}",
                "customer_id": customer,
                "event_type": event_type,
                "occurred_at": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "properties": _json(properties),
                "ingested_at": moment + timedelta(minutes=1),
            })

    emit("cus_a", "2026-01-10 09:00:00", "api_call", 300)
    emit("cus_a", "2026-01-12 09:00:00", "tokens", tokens=1500, model="small")
    emit("cus_a", "2026-01-12 10:00:00", "tokens", tokens=400, model="large")
    emit("cus_a", "2026-02-10 09:00:00", "api_call", 1000)
    emit("cus_a", "2026-02-12 09:00:00", "tokens", 2, tokens=1500, model="small")
    emit("cus_a", "2026-02-12 10:00:00", "tokens", tokens=1000, model="large")
    emit("cus_a", "2026-03-10 09:00:00", "api_call", 200)
    emit("cus_a", "2026-03-12 09:00:00", "tokens", tokens=500, model="small")
    emit("cus_b", "2026-02-10 09:00:00", "api_call", 150)
    emit("cus_b", "2026-02-11 09:00:00", "tokens", tokens=100, model="large")
    emit("cus_c", "2026-01-20 09:00:00", "api_call", 600)
    emit("cus_c", "2026-02-05 09:00:00", "api_call", 100)
    emit("cus_c", "2026-02-20 09:00:00", "api_call", 500)
    emit("cus_c", "2026-03-10 09:00:00", "api_call", 500)
    emit("cus_c", "2026-03-20 09:00:00", "api_call", 7)
    emit("cus_d", "2026-01-15 09:00:00", "api_call", 100)
    emit("cus_d", "2026-02-15 09:00:00", "tokens", tokens=2500, model="small")
    emit("cus_d", "2026-03-15 09:00:00", "api_call", 50)
    emit("cus_d", "2026-01-01 00:00:00", "seats", seats=4)
    emit("cus_d", "2026-02-10 09:00:00", "seats", seats=6)
    emit("cus_d", "2026-03-05 09:00:00", "seats", seats=5)
    return rows


def _json(properties: dict) -> str:
    import json

    return json.dumps(properties)


def scenario_project(destination: Path) -> Path:
    """A copy of the project whose seeds are the scenario's."""
    return copy_project(destination / "project", seeds=SCENARIO_SEEDS)


def build_scenario(warehouse: Warehouse, project: Path, rows: list[dict], as_of: str = AS_OF,
                   usage_and_spend: bool = False) -> Warehouse:
    """Land ``rows``, seed the scenario and build it (no publication, no dbt unit tests; the usage and
    spend marts only if asked).

    One ``dbt build``: it loads the seeds before the models that read them (a ``dbt seed`` first
    would only load them twice)."""
    land_rows(warehouse, rows)
    excluded = [name for name in BILLING_ONLY if not (usage_and_spend and name == "tag:usage_and_spend")]
    warehouse.dbt("build", *excluded, as_of=as_of, project_dir=project)
    return warehouse


@contextmanager
def built_scenario(target: str, work: Path, rows: list[dict], usage_and_spend: bool = False) -> Iterator[Warehouse]:
    """The scenario project with `rows` landed and built (no publication) on one warehouse."""
    project = scenario_project(work)

    def build(warehouse: Warehouse) -> Warehouse:
        return build_scenario(warehouse, project, rows, usage_and_spend=usage_and_spend)

    if target == "duckdb":
        yield build(Warehouse("duckdb", work))
    else:
        with postgres_database() as database:
            yield build(Warehouse("postgres", work, pg_database=database))
