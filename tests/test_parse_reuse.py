"""The premise of the tests' parse reuse (support.warehouse._parsed_project): a parse of the project
does not depend on the run-time vars, so commands that differ only in them may share one.

If a model ever reads one of them where dbt parses (a ref inside ``{% if var('publish') %}``, a
config set from ``as_of``), the two parses below differ and this test names the nodes: then take
that var out of ``RUN_TIME_VARS``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from support.projects import copy_project
from support.publishing import append_rows
from support.warehouse import REPO_ROOT, RUN_TIME_VARS, Warehouse, _environment

from orchestration.dbt_assets import RUN_VARS_ENV

pytestmark = pytest.mark.warehouse

# Two sets of run-time vars as far apart as the tests use them.
DAILY_RUN = {"as_of": "2026-04-02T00:00:00", "publish": False}
PUBLICATION_OVER_A_WINDOW = {
    "as_of": "2026-11-21T00:00:00",
    "publish": True,
    "publication_approval_id": "approval_1",
    "ingested_from": "2026-09-01T00:00:00",
    "ingested_to": "2026-09-02T00:00:00",
    "tests_ingested_from": "2026-09-01T00:00:00",
    "tests_ingested_to": "2026-09-02T00:00:00",
}
# Fields that record when or where a parse ran, not what it produced.
PARSE_CIRCUMSTANCES = ("created_at", "root_path")


def _parse(run_vars: dict[str, Any], work: Path, project: Path = REPO_ROOT) -> dict[str, dict]:
    from dbt.cli.main import dbtRunner

    env = Warehouse("duckdb", work).env
    with _environment(env):
        result = dbtRunner().invoke(["parse", "--project-dir", str(project), "--profiles-dir", str(project),
                                     "--vars", json.dumps(run_vars)])
    assert result.success, result.exception
    manifest = result.result.writable_manifest().to_dict()
    parsed: dict[str, dict] = {}
    for section in ("nodes", "sources", "macros", "unit_tests", "exposures", "semantic_models", "metrics"):
        for unique_id, node in (manifest.get(section) or {}).items():
            parsed[unique_id] = {key: value for key, value in node.items() if key not in PARSE_CIRCUMSTANCES}
    return parsed


def test_the_run_time_vars_change_nothing_in_a_parse(tmp_path: Path) -> None:
    assert set(DAILY_RUN) | set(PUBLICATION_OVER_A_WINDOW) == set(RUN_TIME_VARS)
    daily = _parse(DAILY_RUN, tmp_path / "daily")
    publication = _parse(PUBLICATION_OVER_A_WINDOW, tmp_path / "publication")
    assert daily.keys() == publication.keys()
    differing = sorted(unique_id for unique_id in daily if daily[unique_id] != publication[unique_id])
    assert differing == [], f"these nodes parse differently under other run-time vars: {differing}"
    assert len(daily) > 300, "the comparison covers the whole project"


def test_a_seed_rows_edit_changes_only_the_seeds_checksum_in_a_parse(tmp_path: Path) -> None:
    """The premise of sharing a parse between copies whose seed rows differ (_project_fingerprint
    leaves CSV contents out): dbt reads a CSV seed at parse time for its checksum only, which
    _parsed_project sets from the file."""
    from support.warehouse import _parsed_project

    project = copy_project(tmp_path / "project")
    env, run_vars = Warehouse("duckdb", tmp_path / "shared").env, json.dumps(DAILY_RUN)
    before = _parse(DAILY_RUN, tmp_path / "before", project)
    with _environment(env):  # as Warehouse.dbt calls it
        parsed_before_the_edit = _parsed_project(["build"], project, run_vars, env)
    append_rows(project / "seeds" / "currencies.csv", "XTS,2")
    after = _parse(DAILY_RUN, tmp_path / "after", project)
    assert before.keys() == after.keys()
    differing = {unique_id: sorted(key for key in before[unique_id] if before[unique_id][key] != after[unique_id][key])
                 for unique_id in before if before[unique_id] != after[unique_id]}
    assert differing == {"seed.warehouse_billing.currencies": ["checksum"]}
    # the parse taken before the edit, shared after it, carries each file's checksum as dbt's own would
    currencies = "seed.warehouse_billing.currencies"
    assert parsed_before_the_edit.nodes[currencies].checksum.to_dict() == before[currencies]["checksum"]
    with _environment(env):
        shared = _parsed_project(["build"], project, run_vars, env)
    assert shared.nodes[currencies].checksum.to_dict() == after[currencies]["checksum"]


def test_copies_sharing_a_parse_each_load_their_own_seeds(tmp_path: Path) -> None:
    """dbt-duckdb reads a seed file from the parse's root_path: a shared parse must point it at the
    project the command runs in, not at the copy that was parsed first (and edited since)."""
    first, second = copy_project(tmp_path / "first"), copy_project(tmp_path / "second")
    currencies = (first / "seeds" / "currencies.csv").read_text().strip().splitlines()
    warehouses = []
    for name in ("first_warehouse", "second_warehouse"):
        (tmp_path / name).mkdir()
        warehouses.append(Warehouse("duckdb", tmp_path / name))
    warehouses[0].dbt("seed", "--select", "currencies", project_dir=first)
    append_rows(first / "seeds" / "currencies.csv", "XTS,2")
    warehouses[0].dbt("seed", "--select", "currencies", project_dir=first)
    warehouses[1].dbt("seed", "--select", "currencies", project_dir=second)  # the parse of first, unedited
    assert warehouses[0].query("select count(*) from {schema}.currencies") == [(len(currencies),)]
    assert warehouses[1].query("select count(*) from {schema}.currencies") == [(len(currencies) - 1,)]


def _dbt(project: Path, work: Path, *args: str, run_vars: dict[str, Any] | None = None) -> str:
    """A dbt command in a subprocess (as dagster-dbt starts it), with the run vars in the environment;
    returns its output."""
    env = {**os.environ, **Warehouse("duckdb", work).env, "DBT_TARGET_PATH": str(work / "target"),
           "DBT_WRITE_JSON": "true"}  # as dagster-dbt runs it
    env.pop(RUN_VARS_ENV, None)
    if run_vars is not None:
        env[RUN_VARS_ENV] = json.dumps(run_vars)
    result = subprocess.run([str(Path(sys.executable).with_name("dbt")), *args, "--project-dir", str(project),
                             "--profiles-dir", str(project)], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


def test_run_vars_from_the_environment_reach_dbt_without_a_full_parse(tmp_path: Path) -> None:
    """The Dagster steps pass the run's vars in BILLING_DBT_RUN_VARS (orchestration.dbt_assets.dbt_cli):
    the macro run_var reads them while dbt executes, and the parse made without them still serves."""
    project = copy_project(tmp_path / "project")
    clock = "select {{ as_of() }} as clock, {{ run_var('publish', false) }} as publish"
    _dbt(project, tmp_path, "parse")
    output = _dbt(project, tmp_path, "compile", "--inline", clock,
                  run_vars={"as_of": "2026-02-03T04:05:06", "publish": True})
    assert "cast('2026-02-03 04:05:06' as timestamp)" in output and "True as publish" in output
    assert "Unable to do partial parsing" not in output and "Starting full parse" not in output
    # the environment wins over --vars (a step's own vars are the run's); without it, --vars serve
    output = _dbt(project, tmp_path, "compile", "--inline", clock, "--vars", '{"as_of": "2026-01-01T00:00:00"}',
                  run_vars={"as_of": "2026-02-03T04:05:06"})
    assert "cast('2026-02-03 04:05:06' as timestamp)" in output and "False as publish" in output
    # the premise: run vars in --vars, as the steps passed them before, cost a full parse each time
    assert "Unable to do partial parsing because config vars" in output
    output = _dbt(project, tmp_path, "compile", "--inline", clock, "--vars", '{"as_of": "2026-01-01T00:00:00"}')
    assert "cast('2026-01-01 00:00:00' as timestamp)" in output
