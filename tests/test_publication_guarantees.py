"""Published invoices are append-only, numbered without gaps, and survive reruns and crashes.

Runs on the contract scenario (small and quick). A reference warehouse publishes once, cleanly;
every other path (reruns, a full refresh, a crash between the two published tables, a kill at
several moments of the publication step) must end with byte-identical published rows.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import pytest
from support.publishing import build, check_final_states
from support.scenario import AS_OF
from support.warehouse import DBT_EXECUTABLE, Warehouse, copy_duckdb

pytestmark = pytest.mark.warehouse

PUBLISH_SELECTION = ("run", "--select", "tag:publication")


def _published_state(warehouse: Warehouse) -> tuple[list, list]:
    return (
        warehouse.query("select * from {schema}.published_invoices order by invoice_number"),
        warehouse.query("select * from {schema}.published_invoice_lines order by invoice_number, invoice_line_id"),
    )


def _assert_invariants(warehouse: Warehouse) -> None:
    numbers = [row[0] for row in warehouse.query(
        "select invoice_number from {schema}.published_invoices order by invoice_number")]
    assert numbers == list(range(1, len(numbers) + 1)), "invoice numbers have a gap or a duplicate"
    mismatched = warehouse.query(
        "select i.invoice_id from {schema}.published_invoices as i "
        "left join (select invoice_id, sum(amount) as total from {schema}.published_invoice_lines "
        "group by invoice_id) as l on i.invoice_id = l.invoice_id "
        "where coalesce(l.total, 0) <> i.total_due"
    )
    assert mismatched == [], f"published totals differ from their lines: {mismatched}"


@pytest.fixture(scope="module")
def built(scenario_build):
    """A scenario warehouse with the billing models built (nothing published) and a project copy:
    the run's shared build (conftest.scenario_build), which the tests only ever clone."""
    return scenario_build


def _clone(built, tmp_path: Path, name: str) -> Warehouse:
    warehouse, _ = built
    return copy_duckdb(warehouse, tmp_path / name)


@pytest.fixture(scope="module")
def reference(built, tmp_path_factory: pytest.TempPathFactory) -> tuple[list, list]:
    _, project = built
    clone = _clone(built, tmp_path_factory.mktemp("reference"), "reference")
    clone.dbt(*PUBLISH_SELECTION, as_of=AS_OF, project_dir=project, publish=True)
    state = _published_state(clone)
    assert len(state[0]) == 10, "the scenario has ten ready invoices at its as_of"
    _assert_invariants(clone)
    return state


def test_reruns_and_a_full_refresh_change_no_published_row(built, reference, tmp_path: Path):
    _, project = built
    warehouse = _clone(built, tmp_path, "reruns")
    warehouse.dbt(*PUBLISH_SELECTION, as_of=AS_OF, project_dir=project, publish=True)
    # three reruns: every rerun meets the same published rows (there were ten, at 4 s each, and no
    # rerun after the first can meet anything the first did not)
    for _ in range(3):
        warehouse.dbt("run", "--exclude", "tag:usage_and_spend", as_of=AS_OF, project_dir=project, publish=True)
    warehouse.dbt("run", "--full-refresh", as_of=AS_OF, project_dir=project, publish=True)
    assert _published_state(warehouse) == reference
    _assert_invariants(warehouse)


def test_a_later_full_refresh_appends_and_keeps_what_was_published(built, reference, tmp_path: Path):
    """A full refresh at a later clock must not rebuild the published tables (full_refresh: false)."""
    _, project = built
    warehouse = _clone(built, tmp_path, "later")
    warehouse.dbt(*PUBLISH_SELECTION, as_of=AS_OF, project_dir=project, publish=True)
    later = "2026-05-03T00:00:00"
    # as the publication job does it: the billing models first, then the approval and the published models
    warehouse.dbt("run", "--full-refresh", "--exclude", "tag:publication", "tag:usage_and_spend", as_of=later, project_dir=project)
    warehouse.dbt(*PUBLISH_SELECTION, "--full-refresh", as_of=later, project_dir=project, publish=True)
    invoices, lines = _published_state(warehouse)
    assert invoices[: len(reference[0])] == reference[0], "an earlier published invoice changed"
    assert len(invoices) > len(reference[0])
    _assert_invariants(warehouse)


def test_a_crash_between_the_two_tables_is_completed_by_the_next_publication(built, reference, tmp_path: Path):
    _, project = built
    warehouse = _clone(built, tmp_path, "half")
    warehouse.dbt("run", "--select", "published_invoices", as_of=AS_OF, project_dir=project, publish=True)
    assert len(warehouse.query("select * from {schema}.published_invoices")) == len(reference[0])
    warehouse.dbt(*PUBLISH_SELECTION, as_of=AS_OF, project_dir=project, publish=True)
    assert _published_state(warehouse) == reference


@pytest.mark.parametrize("kill_after_seconds", [1.5, 3.0, 4.5])
def test_a_publication_killed_at_any_moment_recovers_exactly(built, reference, tmp_path: Path,
                                                            kill_after_seconds: float):
    _, project = built
    warehouse = _clone(built, tmp_path, "killed")
    publish_vars = warehouse.approve_publication(as_of=AS_OF, project_dir=project)
    command = [DBT_EXECUTABLE, *PUBLISH_SELECTION, "--project-dir", str(project), "--profiles-dir", str(project),
               "--vars", json.dumps(publish_vars)]
    process = subprocess.Popen(command, env=warehouse.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(kill_after_seconds)
    if process.poll() is None:
        process.send_signal(signal.SIGKILL)
    process.wait()
    warehouse.dbt(*PUBLISH_SELECTION, as_of=AS_OF, project_dir=project, publish=True)
    assert _published_state(warehouse) == reference
    _assert_invariants(warehouse)


def test_a_bare_dbt_publish_run_outside_the_gate_publishes_nothing_and_says_why(built, tmp_path: Path):
    """SPEC 6.1: only invoices the gated step approved, in the same run, are published."""
    _, project = built
    warehouse = _clone(built, tmp_path, "bare")
    bare = warehouse.dbt(*PUBLISH_SELECTION, as_of=AS_OF, project_dir=project, publish=True, approve=False)
    assert "no publication_approval_id was given" in bare.stdout
    # an approval id that approved nothing, and an approval recorded at another clock, publish nothing
    warehouse.dbt(*PUBLISH_SELECTION, as_of=AS_OF, project_dir=project, publish=True, approve=False,
                  extra_vars={"publication_approval_id": "made_up"})
    earlier = warehouse.approve_publication(as_of=AS_OF, project_dir=project, approval_id="earlier")
    assert warehouse.query("select count(*) from {schema}.publication_approvals")[0][0] == 10
    warehouse.dbt(*PUBLISH_SELECTION, as_of="2026-05-03T00:00:00", project_dir=project, publish=True,
                  approve=False, extra_vars={"publication_approval_id": earlier["publication_approval_id"]})
    assert warehouse.query("select count(*) from {schema}.published_invoices")[0][0] == 0
    assert warehouse.query("select count(*) from {schema}.published_invoice_lines")[0][0] == 0
    # the approval, used as the gated step uses it, publishes the ten ready invoices
    warehouse.dbt(*PUBLISH_SELECTION, as_of=AS_OF, project_dir=project, publish=True, approve=False,
                  extra_vars={"publication_approval_id": earlier["publication_approval_id"]})
    assert warehouse.query("select count(*) from {schema}.published_invoices")[0][0] == 10


def test_the_data_tests_a_test_ends_with_fail_on_a_bad_state(built, tmp_path: Path):
    """support.publishing.build leaves the data tests to the end of each test (check_final_states, run by
    conftest): that check fails on a bad state, here an invoice written twice."""
    _, project = built
    warehouse = _clone(built, tmp_path, "bad_state")
    build(warehouse, project, AS_OF)
    warehouse.execute("insert into {schema}.invoices select * from {schema}.invoices limit 1")
    with pytest.raises(AssertionError, match="unique_invoices_invoice_id"):
        check_final_states()
