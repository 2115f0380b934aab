"""Throwaway warehouses for tests: run the dbt project against one, land rows in it, read its marts.

Each warehouse gets its own target and log directories, so test runs never share dbt's target/
folder with a developer's run or with each other (nor with another pytest-xdist worker). The one
throwaway-Postgres helper, ``postgres_database``, lives here too: the ``postgres_warehouse`` fixture
and the tests that build on Postgres both use it.

``Warehouse.dbt`` runs dbt inside the test process (dbt-core's ``dbtRunner``) on DuckDB and Postgres,
and reuses the parsed project between calls that would parse it the same way: a dbt subprocess spent
about 3 s importing dbt and 3 s parsing before doing any work, over a hundred times a run. Other
targets still get a subprocess (see ``IN_PROCESS_TARGETS``).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import psycopg2

REPO_ROOT = Path(__file__).resolve().parents[2]
DBT_EXECUTABLE = str(Path(sys.executable).with_name("dbt"))
DEMO_AS_OF = "2026-11-21T00:00:00"


# The approval id tests publish under (the Dagster step uses its run id): one id, so that the
# approval and the publication share one parse of the project (the vars are part of a parse).
TEST_APPROVAL_ID = "tests"


class Warehouse:
    """One throwaway warehouse: a DuckDB file or a Postgres database, and the env that points dbt at it."""

    def __init__(self, target: str, work_dir: Path, pg_database: str | None = None) -> None:
        self.target = target
        self.work_dir = work_dir
        self.duckdb_path = str(work_dir / "warehouse.duckdb")
        self.pg_database = pg_database
        self.schema = "main" if target == "duckdb" else "analytics"
        # The digest of the seed files this warehouse's tables were last loaded from (None: unknown).
        self.loaded_seeds: str | None = None

    @property
    def env(self) -> dict[str, str]:
        env = {
            **os.environ,
            "BILLING_TARGET": self.target,
            "BILLING_DUCKDB_PATH": self.duckdb_path,
            "DBT_TARGET_PATH": str(self.work_dir / "dbt_target"),
            "DBT_LOG_PATH": str(self.work_dir / "dbt_logs"),
            # No dbt.log unless asked for (DBT_LOG_LEVEL_FILE=debug): writing every debug line took about
            # a tenth of a build; a failing command's console log is in the test's failure message.
            "DBT_LOG_LEVEL_FILE": os.environ.get("DBT_LOG_LEVEL_FILE", "none"),
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
            # No manifest.json, run_results.json or graph files after each command: writing them took
            # about 0.4 s of every command. A test that reads one passes --write-json.
            "DBT_WRITE_JSON": os.environ.get("DBT_WRITE_JSON", "false"),
        }
        if self.pg_database:
            env["BILLING_PG_DATABASE"] = self.pg_database
        return env

    def dbt(self, *args: str, as_of: str = DEMO_AS_OF, check: bool = True,
            project_dir: Path = REPO_ROOT, publish: bool = False, approve: bool = True,
            extra_vars: dict[str, Any] | None = None) -> subprocess.CompletedProcess[str]:
        """Run one dbt command; with check, fail the test with dbt's output when dbt fails.

        A build or run with ``publish`` first approves the ready invoices, as the gated Dagster step
        does (``approve=False``: a bare publish run, which must publish nothing).

        The result reads like a finished ``dbt`` subprocess: ``returncode`` (0; 1 when a node
        failed; 2 when dbt itself failed) and ``stdout`` (dbt's console log)."""
        if publish and approve and args[0] in ("build", "run"):
            # what the gated publication step does first: approve the ready invoices
            extra_vars = {**(extra_vars or {}), "publication_approval_id": TEST_APPROVAL_ID}
            self.approve_publication(as_of=as_of, project_dir=project_dir)
        dbt_vars = json.dumps({"as_of": as_of, "publish": publish, **(extra_vars or {})})
        seeds = _seed_fingerprint(project_dir) if _builds_every_seed(args) else None
        if seeds is not None and seeds == self.loaded_seeds:
            args = _without_seeds(args)
        env = self.env
        if env.get("BILLING_TARGET") in IN_PROCESS_TARGETS:
            result = run_dbt_in_process(args, project_dir, dbt_vars, env)
        else:
            command = [DBT_EXECUTABLE, *args, "--project-dir", str(project_dir),
                       "--profiles-dir", str(project_dir), "--vars", dbt_vars]
            result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        if seeds is not None:
            self.loaded_seeds = seeds if result.returncode == 0 else None
        if check and result.returncode != 0:
            raise AssertionError(f"dbt {' '.join(args)} failed on {self.target}:\n{result.stdout[-6000:]}")
        return result

    def approve_publication(self, *, as_of: str, project_dir: Path = REPO_ROOT,
                            approval_id: str = TEST_APPROVAL_ID) -> dict[str, Any]:
        """Record an approval of the ready invoices, as the gated Dagster step does; returns the
        vars a publication run under that approval takes."""
        publish_vars = {"as_of": as_of, "publish": True, "publication_approval_id": approval_id}
        self.dbt("run-operation", "record_publication_approval", "--args",
                 json.dumps({"approval_id": approval_id}), as_of=as_of, project_dir=project_dir,
                 publish=True, extra_vars={"publication_approval_id": approval_id})
        return publish_vars

    def connect(self) -> Any:
        if self.target == "duckdb":
            return duckdb.connect(self.duckdb_path)
        from warehouse_billing.warehouse import postgres_settings

        return psycopg2.connect(**{**postgres_settings(), "dbname": self.pg_database})

    def query(self, sql: str) -> list[tuple]:
        """Rows of a query with {schema} replaced by the models' schema; decimals normalized."""
        connection = self.connect()
        try:
            cursor = connection.cursor()
            cursor.execute(sql.format(schema=self.schema))
            rows = cursor.fetchall()
        finally:
            connection.close()
        return [tuple(_normalize(value) for value in row) for row in rows]

    def execute(self, sql: str) -> None:
        """Run one statement that changes data ({schema} replaced), committed."""
        self.loaded_seeds = None  # the statement may have changed a seed's table
        connection = self.connect()
        try:
            connection.cursor().execute(sql.format(schema=self.schema))
            connection.commit()
        finally:
            connection.close()


# dbt targets run inside the test process: their adapters let go of the warehouse when a dbt command
# ends, so the file or database is free for the test's own connections, a copy, the loader or a dbt
# subprocess. Any other target gets a dbt subprocess per command, as every target used to (Spark's
# session, for one, keeps its first settings for the life of the process: support.spark has its own
# warehouse class for it).
IN_PROCESS_TARGETS = ("duckdb", "postgres")
# Commands that take an already parsed project (dbtRunner(manifest=...)); any other one parses itself.
PARSED_PROJECT_COMMANDS = ("build", "run", "seed", "test", "run-operation")
# Options that change what a parse produces, besides those Warehouse.dbt sets: a command given one
# of them parses the project itself.
PARSE_OPTIONS = ("--target", "-t", "--profile", "--vars")
# What dbt reads when it parses the project; the copies of support.projects hold the same files.
PROJECT_INPUTS = ("dbt_project.yml", "profiles.yml", "selectors.yml", "packages.yml",
                  "models", "macros", "seeds", "tests/dbt", "snapshots", "analyses")
# Environment variables that only say where dbt reads and writes files, never what a parse produces.
# (The DuckDB file's name does matter: dbt-duckdb names the database, which every parsed node
# records, after it.)
PLACEMENT_VARIABLES = ("BILLING_DUCKDB_PATH", "DBT_TARGET_PATH", "DBT_LOG_PATH")

# The vars only compiled SQL reads (the run's clock, publication, window and the data tests' days; see
# macros/run_clock.sql, publication_approval.sql, usage_batches.sql, data_test_scope.sql): a parse does
# not depend on them, so commands that differ only in these share one parse. tests/test_parse_reuse.py
# checks that premise.
RUN_TIME_VARS = ("as_of", "publish", "publication_approval_id", "ingested_from", "ingested_to",
                 "tests_ingested_from", "tests_ingested_to")

# Parsed projects of this process, serialized as dbt serializes its partial-parse file. Each command
# gets its own copy: a dbt run writes compiled SQL and flags into the manifest's nodes (an already
# compiled node would, for one, skip injecting ephemeral CTEs). Not pickle or deepcopy: dbt-core
# 1.11's Manifest.__reduce_ex__ passes its fields out of order (it leaves out `fixtures`), and the
# copy fails at the first ref() with "RefableLookup.find() missing 1 required positional argument".
_parsed_projects: dict[tuple, bytes] = {}


def run_dbt_in_process(args: Sequence[str], project_dir: Path, dbt_vars: str,
                       env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run ``dbt <args>`` on ``project_dir`` (its own profiles.yml) in this process, with ``env`` as
    the environment, and return what the CLI would: its exit code and its console log.

    The console log is captured instead of printed (dbt.log: see Warehouse.env).
    """
    from dbt.cli.main import dbtRunner
    from dbt_common.events.functions import capture_stdout_logs, stop_capture_stdout_logs

    arguments = [*args, "--project-dir", str(project_dir), "--profiles-dir", str(project_dir),
                 "--vars", dbt_vars]
    log = io.StringIO()
    capture_stdout_logs(log)
    try:
        with _environment(env):
            manifest = _parsed_project(args, project_dir, dbt_vars, env)
            try:
                outcome = dbtRunner(manifest=manifest).invoke(arguments)
            finally:
                _release_duckdb()
    finally:
        stop_capture_stdout_logs()
    output = log.getvalue()
    if outcome.success:
        returncode = 0
    elif outcome.exception is not None:  # dbt stopped (bad arguments, a project error...): the CLI exits 2
        returncode = 2
        output += f"\n{type(outcome.exception).__name__}: {outcome.exception}\n"
    else:  # dbt ran, and a node failed or errored
        returncode = 1
    return subprocess.CompletedProcess(["dbt", *arguments], returncode, output, "")


def _parsed_project(args: Sequence[str], project_dir: Path, dbt_vars: str, env: dict[str, str]) -> Any:
    """A fresh copy of the project as dbt parses it for this command, or None to let dbt parse it.

    dbt itself parses again (it refuses a partial parse) when the vars, the profile or a project
    file change: the key holds what of them a parse reads, so a parse is reused only where dbt would
    produce the same manifest. Three differences from dbt's rule, on purpose: warehouses of one
    target share a parse although their DuckDB files and target folders differ, since nothing in the
    project reads those at parse time (models, macros and dbt_project.yml read target.type, .schema,
    .database); copies of the project with the same files share one too (the only absolute path a
    parse holds is each seed's root_path, set here to the project the command runs in: dbt-duckdb
    loads seed files from it, so a copy would otherwise load another copy's seeds, edited since);
    and the run-time vars (RUN_TIME_VARS) are left out of the key. About 2.5 s saved per reuse: a
    test that publishes month after month used to parse at every step.
    """
    from dbt.cli.main import dbtRunner
    from dbt.contracts.graph.manifest import Manifest
    from dbt.contracts.files import FileHash
    from dbt.parser.manifest import extended_mashumaro_encoder, extended_mashumuro_decoder
    from dbt_common.clients.system import load_file_contents

    command, *options = args
    if command not in PARSED_PROJECT_COMMANDS or any(option in PARSE_OPTIONS for option in options):
        return None
    profile = tuple(sorted((name, value) for name, value in env.items()
                           if name.startswith(("BILLING_", "DBT_")) and name not in PLACEMENT_VARIABLES))
    duckdb_database = Path(env.get("BILLING_DUCKDB_PATH", "")).stem
    parse_vars = {name: value for name, value in json.loads(dbt_vars).items() if name not in RUN_TIME_VARS}
    key = (_project_fingerprint(project_dir), json.dumps(parse_vars, sort_keys=True), profile, duckdb_database)
    if key not in _parsed_projects:
        parse = dbtRunner().invoke(["parse", "--project-dir", str(project_dir), "--profiles-dir",
                                    str(project_dir), "--vars", dbt_vars])
        if not parse.success:
            return None  # the command parses again and reports the error in its own log
        _parsed_projects[key] = parse.result.to_msgpack(extended_mashumaro_encoder)
    manifest = Manifest.from_msgpack(_parsed_projects[key], decoder=extended_mashumuro_decoder)
    for node in manifest.nodes.values():
        if node.resource_type == "seed":
            node.root_path = str(project_dir)
            # what dbt's parse would record for this copy's file (see _project_fingerprint)
            node.checksum = FileHash.from_contents(load_file_contents(str(project_dir / node.original_file_path)))
    # What dbt does to a manifest it reads back from its partial-parse file before using it.
    manifest.build_parent_and_child_maps()
    manifest.build_flat_graph()
    return manifest


# Options that narrow what a build selects: such a build may not load every seed.
SELECTION_OPTIONS = ("--select", "-s", "--selector", "--resource-type", "--resource-types")


def _is_seed_file(project_dir: Path, path: Path) -> bool:
    return path.suffix == ".csv" and path.is_relative_to(project_dir / "seeds")


def _builds_every_seed(args: Sequence[str]) -> bool:
    """Whether ``dbt <args>`` loads every seed: a build that selects everything and excludes no seed."""
    return (args[0] == "build" and not any(option in SELECTION_OPTIONS for option in args)
            and not any("seed" in arg for arg in args[1:]))


def _without_seeds(args: Sequence[str]) -> tuple[str, ...]:
    """The same build with the seeds left out: its warehouse holds them as the files are.

    Loading the seeds again took about 1 s of every DuckDB build and more on Postgres; their data
    tests go with them (same files, same results)."""
    if "--exclude" in args:
        position = args.index("--exclude") + 1
        return (*args[:position], "resource_type:seed", *args[position:])
    return (*args, "--exclude", "resource_type:seed")


def _seed_fingerprint(project_dir: Path) -> str:
    """A digest of the seed files and of dbt_project.yml (which declares the seeds' column types)."""
    digest = hashlib.sha256()
    for path in [project_dir / "dbt_project.yml", *sorted((project_dir / "seeds").rglob("*"))]:
        if path.is_file():
            content = path.read_bytes()
            digest.update(f"{path.relative_to(project_dir)}\0{len(content)}\0".encode())
            digest.update(content)
    return digest.hexdigest()


def _project_fingerprint(project_dir: Path) -> str:
    """A digest of the path (relative to the project) and content of every file dbt parses; of a seed's
    CSV file, the path only.

    A parse reads a CSV seed for its checksum alone (the rows are read when the seed is loaded), and
    _parsed_project sets that from the file: so the many tests that edit seed rows step after step
    share one parse, where each edit cost a full parse (about 5 s) before."""
    digest = hashlib.sha256()
    for name in PROJECT_INPUTS:
        path = project_dir / name
        candidates = sorted(path.rglob("*")) if path.is_dir() else [path] if path.exists() else []
        for candidate in candidates:
            if candidate.is_file():
                content = b"" if _is_seed_file(project_dir, candidate) else candidate.read_bytes()
                digest.update(f"{candidate.relative_to(project_dir)}\0{len(content)}\0".encode())
                digest.update(content)
    return digest.hexdigest()


@contextmanager
def _environment(env: dict[str, str]) -> Iterator[None]:
    """Make ``env`` this process's environment for a while (profiles.yml and dbt's flags read it)."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _release_duckdb() -> None:
    """Close the DuckDB database dbt-duckdb holds open in this process, if any.

    dbt-duckdb keeps one database instance per process (a class attribute) and closes it when its
    last cursor closes, which a command that fails part-way may skip. Closed here, the file is free
    for a copy, a connection with other settings (duckdb.connect, the loader) or another process.
    """
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    with DuckDBConnectionManager._LOCK:
        if DuckDBConnectionManager._ENV is not None:
            DuckDBConnectionManager._ENV.close()
            DuckDBConnectionManager._ENV = None


def copy_duckdb(source: Warehouse, work_dir: Path) -> Warehouse:
    """A new DuckDB warehouse in ``work_dir`` holding a copy of ``source``'s file (no process may
    have ``source`` open for writing). Tests that change data take a copy of a shared build."""
    work_dir.mkdir(parents=True, exist_ok=True)
    copy = Warehouse("duckdb", work_dir)
    shutil.copy(source.duckdb_path, copy.duckdb_path)
    copy.loaded_seeds = source.loaded_seeds
    return copy


def _normalize(value: Any) -> Any:
    if isinstance(value, Decimal):
        return value.normalize() if value != 0 else Decimal(0)
    return value


@contextmanager
def postgres_database(prefix: str = "billing_test_", template: str | None = None) -> Iterator[str]:
    """A throwaway Postgres database (a copy of ``template`` if given); the test fails (never skips)
    when the server is unreachable."""
    from warehouse_billing.warehouse import postgres_settings

    settings = postgres_settings()
    name = prefix + uuid.uuid4().hex[:12]
    try:
        admin = psycopg2.connect(**{**settings, "dbname": "postgres"}, connect_timeout=5)
    except psycopg2.OperationalError as exc:
        raise AssertionError(f"PostgreSQL at {settings['host']}:{settings['port']} is unreachable: {exc}") from exc
    admin.autocommit = True
    try:
        with admin.cursor() as cursor:
            cursor.execute(f'create database "{name}"' + (f' template "{template}"' if template else ""))
        yield name
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f'drop database if exists "{name}" with (force)')
        admin.close()


def land_rows(warehouse: Warehouse, rows: Sequence[dict[str, Any]]) -> None:
    """Land raw usage rows (keeping their ingested_at) through the project's own loader."""
    from warehouse_billing.demo_data import write_events
    from warehouse_billing.loader import load_files

    path = warehouse.work_dir / f"events_{uuid.uuid4().hex[:8]}.jsonl"
    write_events(path, rows)
    env_keys = {"BILLING_DUCKDB_PATH": warehouse.duckdb_path}
    if warehouse.pg_database:
        env_keys["BILLING_PG_DATABASE"] = warehouse.pg_database
    with _environment({**os.environ, **env_keys}):
        results = load_files([path], target=warehouse.target, keep_ingested_at=True)
    assert all(result.ok for result in results), [result.error for result in results]
