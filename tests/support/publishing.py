"""What the publication job does, step by step, for tests that drive dbt themselves.

``build`` is the job's billing step without publication (models and seeds; the dbt unit tests have
their own target, ``make test-unit``), and without the snapshots and the usage and spend marts. ``publish`` is
the whole job: build, then the gated step's approval and the published models (``approve=False``: a
bare ``dbt build --vars '{publish: true}'`` that no gate approved); ``publish_built`` is that second
half alone, for a test that has just built at the same as_of. ``append_rows`` adds rows to a seed
file of a project copy and ``edit_rows`` changes one in place, as an analytics engineer's pull
request would; ``seed_row`` writes a row by column name, so a column added to a seed later changes
no test's rows.

The data tests of the billing models run once per test, on the state the test ends in
(``check_final_states``, called by tests/conftest.py after each test's body): a test that publishes
month after month built them at every step, about a third of each build on DuckDB and Postgres,
over and over on states the next step replaces. A build with ``check=False`` (a test that expects
it to fail) takes them along, and leaves nothing to check afterwards.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from support.warehouse import REPO_ROOT, Warehouse


# What a test of billing leaves out of its builds: the publication step (run on its own, after the
# gate), the usage and spend marts (no invoice reads them; the tests that read them build them: about
# a tenth fewer nodes per build), the snapshots of the rating seeds (an audit trail no model reads:
# 8 nodes, about a sixth of a build's node time; the demo builds of test_pipeline_builds.py and the
# Dagster job's tests take them) and the dbt unit tests (make test-unit).
BILLING_ONLY = ("--exclude", "tag:publication", "tag:usage_and_spend", "resource_type:snapshot", "test_type:unit")


# Warehouses built by ``build`` during the current test whose data tests have not run yet: the
# warehouse's work folder -> (warehouse, project, as_of of its last build).
_unchecked: dict[Path, tuple[Warehouse, Path, str]] = {}


def build(warehouse: Warehouse, project: Path, as_of: str, check: bool = True) -> Any:
    if not check:  # expected to fail, maybe on a data test: everything, and nothing left to check
        _unchecked.pop(warehouse.work_dir, None)
        return warehouse.dbt("build", *BILLING_ONLY, as_of=as_of, project_dir=project, check=False)
    result = warehouse.dbt("build", *BILLING_ONLY, "test_type:data", as_of=as_of, project_dir=project)
    _unchecked[warehouse.work_dir] = (warehouse, project, as_of)
    return result


def forget_final_states() -> None:
    _unchecked.clear()


def check_final_states() -> None:
    """Run the billing models' data tests on each warehouse ``build`` left since the last call; fail
    with dbt's output when one fails."""
    pending = list(_unchecked.values())
    _unchecked.clear()
    for warehouse, project, as_of in pending:
        warehouse.dbt("test", *BILLING_ONLY, as_of=as_of, project_dir=project)


def publish(warehouse: Warehouse, project: Path, as_of: str, approve: bool = True) -> None:
    build(warehouse, project, as_of)
    publish_built(warehouse, project, as_of, approve=approve)


def publish_built(warehouse: Warehouse, project: Path, as_of: str, approve: bool = True) -> None:
    """The gated publication step alone, on what the test's last ``build`` at this ``as_of`` left (nothing
    changed since): what ``publish`` does without building the same state twice."""
    last = _unchecked.get(warehouse.work_dir)
    assert last is not None and last[2] == as_of, "publish_built follows a build at the same as_of"
    warehouse.dbt("build", "--select", "tag:publication", as_of=as_of, project_dir=project, publish=True,
                  approve=approve)


def seed_row(seed: str, seeds_dir: Path = REPO_ROOT / "seeds", **values: str) -> str:
    """One CSV row of ``seeds_dir``/<seed>.csv with the named columns set and every other column empty."""
    header = next(csv.reader(io.StringIO((seeds_dir / f"{seed}.csv").read_text())))
    unknown = set(values) - set(header)
    assert not unknown, f"{seed}.csv has no column {sorted(unknown)}"
    row = io.StringIO()
    csv.writer(row, lineterminator="").writerow([values.get(column, "") for column in header])
    return row.getvalue()


def append_rows(path: Path, *rows: str) -> None:
    path.write_text(path.read_text().rstrip("\n") + "\n" + "\n".join(rows) + "\n")


def edit_rows(path: Path, old: str, new: str) -> None:
    """Replace text in a seed file of a project copy (a row edited in place); fail if it is not there."""
    text = path.read_text()
    assert old in text, f"{path.name} no longer contains {old!r}"
    path.write_text(text.replace(old, new))
