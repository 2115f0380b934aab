"""Expensive builds made once per test session and shared, also across pytest-xdist workers.

Under xdist each worker is its own process with its own session fixtures, so a session fixture alone
would build once per worker. ``build_once`` follows pytest-xdist's documented pattern instead: the
first worker to ask builds under a file lock in the run's common temporary folder, the others wait
for it and reuse the result. Without xdist the run's own temporary folder is used, so nothing is
ever shared between two pytest runs.

A shared build is never handed to a test as is: tests get a copy (``copy_duckdb``, or a Postgres
database made from it as a template by ``support.warehouse.postgres_database``), so a test that
writes cannot disturb another, and no two processes ever open the shared DuckDB file together.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from filelock import FileLock

BUILT_MARKER = ".built"


def session_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The temporary folder common to every worker of this run (the run's own folder without xdist)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def build_once(tmp_path_factory: pytest.TempPathFactory, name: str, build: Callable[[Path], None]) -> Path:
    """Call ``build(folder)`` once per run for ``name`` and return the folder once it has finished.

    A build that raised leaves no marker: the next caller starts it again from an empty folder
    (and most likely reports the same failure in its own test).
    """
    root = session_root(tmp_path_factory)
    folder = root / f"shared_{name}"
    with FileLock(str(root / f"shared_{name}.lock")):
        if not (folder / BUILT_MARKER).exists():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
            build(folder)
            (folder / BUILT_MARKER).touch()
    return folder
