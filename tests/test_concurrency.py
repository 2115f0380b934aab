"""Two runs started together never corrupt state.

DuckDB allows one writer per file: a second dbt run fails at once with DuckDB's lock error while the
first completes (the Dagster run queue, max_concurrent_runs: 1, keeps scheduled runs from colliding).
On Postgres two publications started together are serialized by an advisory lock: every ready invoice
is published once, with gap-free numbers.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml
from support.publishing import BILLING_ONLY
from support.scenario import AS_OF, scenario_events, scenario_project
from support.warehouse import DBT_EXECUTABLE, REPO_ROOT, Warehouse, land_rows, postgres_database


def _start(warehouse: Warehouse, project: Path, *args: str, publish: bool = False) -> subprocess.Popen:
    run_vars = warehouse.approve_publication(as_of=AS_OF, project_dir=project) if publish else {
        "as_of": AS_OF, "publish": False}
    command = [DBT_EXECUTABLE, *args, "--project-dir", str(project), "--profiles-dir", str(project),
               "--vars", json.dumps(run_vars)]
    return subprocess.Popen(command, env=warehouse.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_dagster_runs_one_job_at_a_time():
    settings = yaml.safe_load((REPO_ROOT / "dagster_home" / "dagster.yaml").read_text())
    assert settings["run_queue"]["max_concurrent_runs"] == 1


@pytest.mark.warehouse
def test_a_second_duckdb_writer_fails_clearly_and_the_first_completes(tmp_path: Path):
    project = scenario_project(tmp_path)
    warehouse = Warehouse("duckdb", tmp_path)
    land_rows(warehouse, scenario_events())
    warehouse.dbt("seed", as_of=AS_OF, project_dir=project)
    first = _start(warehouse, project, "run")
    second = _start(warehouse, project, "run")
    outputs = [process.communicate(timeout=300)[0] for process in (first, second)]
    codes = [process.returncode for process in (first, second)]
    assert 0 in codes, outputs
    for code, output in zip(codes, outputs, strict=True):
        if code != 0:
            assert "lock" in output.lower(), output[-2000:]
    # whatever happened, a clean rerun finds consistent state
    warehouse.dbt("build", *BILLING_ONLY, as_of=AS_OF, project_dir=project)


@pytest.mark.warehouse
def test_two_postgres_publications_started_together_publish_each_invoice_once(tmp_path: Path):
    project = scenario_project(tmp_path)
    with postgres_database() as database:
        warehouse = Warehouse("postgres", tmp_path, pg_database=database)
        land_rows(warehouse, scenario_events())
        warehouse.dbt("seed", as_of=AS_OF, project_dir=project)
        warehouse.dbt("run", as_of=AS_OF, project_dir=project)
        runs = [_start(warehouse, project, "run", "--select", "tag:publication", publish=True) for _ in range(2)]
        outputs = [process.communicate(timeout=300)[0] for process in runs]
        assert [process.returncode for process in runs] == [0, 0], outputs
        numbers = warehouse.query(
            "select invoice_number, count(*) over (partition by invoice_id) "
            "from {schema}.published_invoices order by invoice_number"
        )
        assert [number for number, _ in numbers] == list(range(1, 11))
        assert {copies for _, copies in numbers} == {1}
        lines = warehouse.query(
            "select count(*), count(distinct invoice_line_id) from {schema}.published_invoice_lines"
        )
        assert lines[0][0] == lines[0][1] > 0
