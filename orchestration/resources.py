"""The dbt project and the dbt CLI resource, configured from the environment.

Environment variables:
- ``BILLING_TARGET``: dbt target from ``profiles.yml`` (``duckdb`` by default, ``postgres`` in production).
- ``BILLING_DBT_PROJECT_DIR``: the dbt project to run (default: the repository root). Tests point it
  at a modified copy of the project.
- ``BILLING_DUCKDB_PATH`` / ``BILLING_PG_*``: read by ``profiles.yml`` itself, not here.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import yaml
from dagster_dbt import DbtCliResource, DbtProject

from warehouse_billing import REPO_ROOT
from warehouse_billing.warehouse import configured_target
# Written next to manifest.json by prepare_manifest(): the target the manifest was parsed for.
MANIFEST_TARGET_STAMP = ".manifest_target"
# dbt artifacts kept per step: dagster-dbt gives every invocation its own target/<step>-<run>-<id>/ (~10 MB).
KEEP_INVOCATION_DIRS = 10


def dbt_project_dir() -> Path:
    """The dbt project directory: ``$BILLING_DBT_PROJECT_DIR`` or the repository root."""
    return Path(os.environ.get("BILLING_DBT_PROJECT_DIR") or REPO_ROOT).resolve()


def dbt_target() -> str:
    """The dbt target: ``$BILLING_TARGET`` or ``duckdb``."""
    return configured_target()


def dbt_executable() -> str:
    """The ``dbt`` next to the running interpreter, so the venv need not be on PATH."""
    beside_python = Path(sys.executable).parent / "dbt"
    if beside_python.exists():
        return os.fspath(beside_python)
    return shutil.which("dbt") or "dbt"


def build_dbt_project(project_dir: Path | str | None = None) -> DbtProject:
    """A DbtProject whose profiles.yml lives in the project directory itself."""
    directory = Path(project_dir).resolve() if project_dir else dbt_project_dir()
    return DbtProject(project_dir=directory, profiles_dir=directory, target=dbt_target())


def build_dbt_resource(project: DbtProject) -> DbtCliResource:
    return DbtCliResource(
        project_dir=project,
        profiles_dir=os.fspath(project.profiles_dir),
        target=project.target,
        dbt_executable=dbt_executable(),
    )


def _project_inputs(project_dir: Path) -> Iterator[Path]:
    """Every file whose change can change the manifest."""
    with open(project_dir / "dbt_project.yml", encoding="utf-8") as file:
        config = yaml.safe_load(file) or {}
    for name in ("dbt_project.yml", "profiles.yml", "packages.yml", "dependencies.yml", "selectors.yml"):
        if (project_dir / name).exists():
            yield project_dir / name
    folders = {
        "model-paths": ["models"],
        "seed-paths": ["seeds"],
        "macro-paths": ["macros"],
        "test-paths": ["tests"],
        "snapshot-paths": ["snapshots"],
        "analysis-paths": ["analyses"],
    }
    for key, default in folders.items():
        for folder in config.get(key, default):
            root = project_dir / folder
            if root.is_dir():
                yield from (path for path in root.rglob("*") if path.is_file())


def manifest_is_stale(project: DbtProject) -> bool:
    """True when manifest.json is missing, older than a project file, or parsed for another target."""
    manifest = project.manifest_path
    if not manifest.exists():
        return True
    stamp = manifest.parent / MANIFEST_TARGET_STAMP
    if not stamp.exists() or stamp.read_text(encoding="utf-8").strip() != (project.target or ""):
        return True
    built_at = manifest.stat().st_mtime
    return any(path.stat().st_mtime > built_at for path in _project_inputs(project.project_dir))


def prepare_manifest(project: DbtProject | None = None, *, force: bool = False) -> Path:
    """Run ``dbt parse`` when the manifest is missing or stale; return the manifest path.

    ``DbtProject.prepare_if_dev()`` only acts under ``dagster dev``; tests, the demo and CLI runs
    need this instead.
    """
    project = project or build_dbt_project()
    if force or manifest_is_stale(project):
        build_dbt_resource(project).cli(["parse", "--quiet"], target_path=project.target_path).wait()
        stamp = project.manifest_path.parent / MANIFEST_TARGET_STAMP
        stamp.write_text(project.target or "", encoding="utf-8")
    return project.manifest_path


def prune_invocation_dirs(project: DbtProject, step_name: str, keep: int = KEEP_INVOCATION_DIRS) -> None:
    """Delete all but the ``keep`` newest artifact folders of ``step_name`` under the target path."""
    root = project.project_dir / project.target_path
    folders = sorted(
        (path for path in root.glob(f"{step_name}-*") if path.is_dir()),
        key=lambda path: path.stat().st_mtime,
        reverse=True,
    )
    for stale in folders[keep:]:
        shutil.rmtree(stale, ignore_errors=True)
