"""Copies of the dbt project that a test may edit (a seed, a price) without touching the checkout."""

from __future__ import annotations

import shutil
from pathlib import Path

from support.warehouse import REPO_ROOT

# What dbt reads: the files and folders that exist are copied, the others skipped.
PROJECT_FILES = ("dbt_project.yml", "profiles.yml", "selectors.yml", "packages.yml")
PROJECT_DIRS = ("models", "macros", "seeds", "tests/dbt", "snapshots", "analyses")
# Seed files that belong to the project rather than to a data set: kept when a copy gets another
# set of seeds (the seed properties, and the vocabulary of invoice lines the models and a dbt test read).
PROJECT_SEEDS = ("_seeds.yml", "invoice_line_types.csv")


def copy_project(destination: Path, seeds: Path | None = None) -> Path:
    """Copy the dbt project into ``destination`` (created if missing) and return it.

    With ``seeds``, the copy's seed CSVs are that folder's instead of the demo's; the files of
    ``PROJECT_SEEDS`` come from the project unless that folder has its own.
    """
    destination.mkdir(parents=True, exist_ok=True)
    for name in PROJECT_FILES:
        if (REPO_ROOT / name).exists():
            shutil.copy2(REPO_ROOT / name, destination / name)
    for name in PROJECT_DIRS:
        if name == "seeds" and seeds is not None:
            shutil.copytree(seeds, destination / "seeds")
            for seed in PROJECT_SEEDS:
                if not (destination / "seeds" / seed).exists():
                    shutil.copy2(REPO_ROOT / "seeds" / seed, destination / "seeds" / seed)
        elif (REPO_ROOT / name).is_dir():
            shutil.copytree(REPO_ROOT / name, destination / name)
    return destination
