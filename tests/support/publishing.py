"""What the publication job does, step by step, for tests that drive dbt themselves.

``build`` is the job's billing step without publication (models, seeds, snapshots and data tests; the
dbt unit tests have their own target, ``make test-unit``). ``publish`` is the whole job: build and
test, then the gated step's approval and the published models (``approve=False``: a bare
``dbt build --vars '{publish: true}'`` that no gate approved). ``append_rows`` adds rows to a seed
file of a project copy, as an analytics engineer's pull request would.
"""

from __future__ import annotations

from pathlib import Path

from support.warehouse import Warehouse


def build(warehouse: Warehouse, project: Path, as_of: str, check: bool = True):
    return warehouse.dbt("build", "--exclude", "tag:publication", "test_type:unit", as_of=as_of,
                         project_dir=project, check=check)


def publish(warehouse: Warehouse, project: Path, as_of: str, approve: bool = True) -> None:
    build(warehouse, project, as_of)
    warehouse.dbt("build", "--select", "tag:publication", as_of=as_of, project_dir=project, publish=True,
                  approve=approve)


def append_rows(path: Path, *rows: str) -> None:
    path.write_text(path.read_text().rstrip("\n") + "\n" + "\n".join(rows) + "\n")
