"""What the publication job does, step by step, for tests that drive dbt themselves.

``build`` is the job's billing step without publication (models, seeds, snapshots and data tests; the
dbt unit tests have their own target, ``make test-unit``), and without the usage and spend marts. ``publish`` is the whole job: build and
test, then the gated step's approval and the published models (``approve=False``: a bare
``dbt build --vars '{publish: true}'`` that no gate approved). ``append_rows`` adds rows to a seed
file of a project copy, as an analytics engineer's pull request would.
"""

from __future__ import annotations

from pathlib import Path

from support.warehouse import Warehouse


# What a test of billing leaves out of its builds: the publication step (run on its own, after the
# gate), the usage and spend marts (no invoice reads them; the tests that read them build them: about
# a tenth fewer nodes per build) and the dbt unit tests (make test-unit).
BILLING_ONLY = ("--exclude", "tag:publication", "tag:usage_and_spend", "test_type:unit")


def build(warehouse: Warehouse, project: Path, as_of: str, check: bool = True):
    return warehouse.dbt("build", *BILLING_ONLY, as_of=as_of, project_dir=project, check=check)


def publish(warehouse: Warehouse, project: Path, as_of: str, approve: bool = True) -> None:
    build(warehouse, project, as_of)
    warehouse.dbt("build", "--select", "tag:publication", as_of=as_of, project_dir=project, publish=True,
                  approve=approve)


def append_rows(path: Path, *rows: str) -> None:
    path.write_text(path.read_text().rstrip("\n") + "\n" + "\n".join(rows) + "\n")
