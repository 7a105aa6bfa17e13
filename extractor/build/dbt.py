"""Run the dbt project (`dbt build`: seeds, models, tests) on a lake directory.

The project's profile, `profiles.example.yml`, takes everything from the environment, so nobody
needs a ~/.dbt/profiles.yml: this module copies it to `<lake>/dbt/profiles.yml` (unless
DBT_PROFILES_DIR is set), passes `--profiles-dir`, and sets DICOM_LAKE_DIR. dbt's target/ and
logs/ go under `<lake>/dbt/`, next to the warehouse `<lake>/warehouse.duckdb`.

Two engines run the same models: DuckDB (the profile's `local` target), in this process; Spark
(its `spark` target), in a process of its own per build, because a JVM keeps the first Spark
session's warehouse and metastore for its whole life. That process's dbt outcome is read from
dbt's run_results.json, and the JVM's own output goes to `<lake>/dbt/logs/spark.log`.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import duckdb

from extractor.build.freshness import (
    forget,
    inputs_digest,
    is_up_to_date,
    project_digest,
    record,
    same_project,
    warehouse_state,
    write_whole,
)
from extractor.build.project import project_dir as bundled_project_dir
from extractor.build.seeds import check_projected_tags
from extractor.build.spark import spark_environment
from extractor.build.warehouse import wait_for_warehouse
from extractor.lake import Lake
from extractor.landing import LandingZone
from extractor.privacy import Policy, check_policy
from extractor.privacy.keyed import key_check

FAILING_STATUSES = {"error", "fail", "runtime error"}
log = logging.getLogger(__name__)


class Engine(StrEnum):
    """What runs the models: the profile target each one uses."""

    duckdb = "duckdb"
    spark = "spark"

    @property
    def target(self) -> str:
        return "local" if self is Engine.duckdb else "spark"


class EmptyLandingZoneError(RuntimeError):
    """Nothing has landed yet: there is no change feed to build from."""


@dataclass(frozen=True)
class BuildResult:
    """What `dbt build` reported."""

    success: bool
    failed: list[str] = field(default_factory=list)
    """Unique ids of the nodes that errored or failed (e.g. `model.dicom_lake.instance`)."""
    warned: list[str] = field(default_factory=list)
    """Unique ids of the tests that warned (malformed values, quarantined metadata...)."""
    skipped: list[str] = field(default_factory=list)
    """Unique ids of the nodes skipped because something upstream failed."""
    messages: dict[str, str] = field(default_factory=dict)
    """The message dbt gave for each failed node."""
    error: str | None = None
    """The exception dbt raised before running nodes (bad project, bad profile), if any."""
    warehouse: Path | None = None
    up_to_date: bool = False
    """True when nothing changed since the last successful build, which was therefore not run
    again (extractor.build.freshness)."""
    full_refresh: bool = False
    """True when every model was rebuilt: asked for, or because the privacy policy changed
    (the publication then re-merges every row too)."""


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _release_duckdb() -> None:
    """Close the DuckDB database dbt-duckdb keeps open in this process after a run.

    Otherwise the warehouse file stays open with dbt's configuration, and the caller can neither
    open it read-only nor run another build on another lake cleanly.
    """
    try:
        from dbt.adapters.duckdb.connections import DuckDBConnectionManager
    except ImportError:  # pragma: no cover - another adapter
        return
    environment = getattr(DuckDBConnectionManager, "_ENV", None)
    if environment is not None:
        environment.close()
    DuckDBConnectionManager.close_all_connections()


def run_dbt(
    lake_dir: Path,
    arguments: list[str],
    *,
    project_dir: Path | None = None,
    engine: Engine = Engine.duckdb,
) -> Any:
    """Invoke dbt on `lake_dir` and return dbt's `dbtRunnerResult` (DuckDB, in this process) or
    a `SparkOutcome` (Spark, in a process of its own).

    `arguments` start with the command (`build`, `show`, ...); the project, profile, target and
    log directories and the DICOM_LAKE_DIR variable are added here.
    """
    lake = Lake(Path(lake_dir).resolve())
    project = _project(project_dir)
    lake.root.mkdir(parents=True, exist_ok=True)
    full_arguments = [
        *arguments,
        "--project-dir",
        str(project),
        *_profiles_arguments(project, lake.dbt),
        "--target",
        engine.target,
        "--target-path",
        str(lake.dbt_target),
        "--log-path",
        str(lake.dbt_logs),
        "--no-use-colors",
        "--quiet",
    ]
    environment = {"DICOM_LAKE_DIR": str(lake.root), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    if engine is Engine.spark:
        spark = {**environment, **spark_environment()}
        return _run_dbt_process(lake, project, full_arguments, spark)
    from dbt.cli.main import dbtRunner

    with _environment(environment):
        try:
            return dbtRunner().invoke(full_arguments)
        finally:
            _release_duckdb()


@dataclass(frozen=True)
class SparkOutcome:
    """What a dbt process reported: its run_results.json entries, or the error it stopped on."""

    success: bool
    results: list[dict[str, Any]]
    exception: str | None


# the privacy policy's SQL functions join each Spark session dbt-spark creates; the project
# comes first in the arguments, and is taken off them before dbt reads them
_DBT_MAIN = (
    "import sys; from pathlib import Path; "
    "from extractor.privacy.functions import register_with_spark_sessions; "
    "register_with_spark_sessions(Path(sys.argv.pop(1))); from dbt.cli.main import cli; cli()"
)


def _run_dbt_process(
    lake: Lake, project: Path, arguments: list[str], environment: dict[str, str]
) -> SparkOutcome:
    run_results = lake.dbt_target / "run_results.json"
    run_results.unlink(missing_ok=True)
    lake.dbt_logs.mkdir(parents=True, exist_ok=True)
    with (lake.dbt_logs / "spark.log").open("ab") as jvm_log:
        finished = subprocess.run(
            [sys.executable, "-c", _DBT_MAIN, str(project), *arguments],
            env={**os.environ, **environment},
            stdout=subprocess.PIPE,
            stderr=jvm_log,
            check=False,
        )
    printed = finished.stdout.decode(errors="replace").strip()
    results = json.loads(run_results.read_text())["results"] if run_results.is_file() else []
    # dbt exits 1 when nodes failed (named in run_results.json), 2 when it could not run them
    exception = None
    if finished.returncode not in (0, 1) or (finished.returncode == 1 and not results):
        exception = printed or f"dbt exited with {finished.returncode}; see {lake.dbt_logs}"
    return SparkOutcome(finished.returncode == 0, results, exception)


def _project(project_dir: Path | None) -> Path:
    project = Path(project_dir).resolve() if project_dir is not None else bundled_project_dir()
    if not (project / "dbt_project.yml").is_file():
        raise FileNotFoundError(f"no dbt_project.yml in {project}")
    return project


def _profile(project: Path) -> Path:
    """The profile dbt reads: DBT_PROFILES_DIR's, or the project's example (_profiles_arguments)."""
    chosen = os.environ.get("DBT_PROFILES_DIR")
    return Path(chosen) / "profiles.yml" if chosen else project / "profiles.example.yml"


def _profiles_arguments(project: Path, dbt_dir: Path) -> list[str]:
    """dbt's own DBT_PROFILES_DIR wins; otherwise the project's example profile, as shipped."""
    if os.environ.get("DBT_PROFILES_DIR"):
        return []
    dbt_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(project / "profiles.example.yml", dbt_dir / "profiles.yml")
    return ["--profiles-dir", str(dbt_dir)]


_SHOWN_FAILURES = 10
# what a build of an unchanged project on an untouched warehouse leaves out: the seeds and, with
# them, their tests (dbt drops a test whose parent is left out), and the unit tests
_PROJECT_CHECKS = ["resource_type:seed", "resource_type:unit_test"]


def _stored_failures(warehouse: Path, node: Any) -> str:
    """The failing rows of a test that stores them (`store_failures`), as lines to show.

    dbt says only how many rows failed; a test written to name the problem (a seed row and its
    reason) is read back, so the operator sees which row and why.
    """
    relation = getattr(node, "relation_name", None)
    if not getattr(node.config, "store_failures", False) or not relation or not warehouse.exists():
        return ""
    try:
        with duckdb.connect(str(warehouse), read_only=True) as connection:
            cursor = connection.execute(f"select * from {relation} limit {_SHOWN_FAILURES + 1}")
            names = [column[0] for column in cursor.description or []]
            rows = cursor.fetchall()
    except duckdb.Error:
        return ""  # the message dbt gave stands on its own
    lines = [
        "    " + ", ".join(f"{name}={value}" for name, value in zip(names, row, strict=True))
        for row in rows[:_SHOWN_FAILURES]
    ]
    if len(rows) > _SHOWN_FAILURES:
        lines.append(f"    ... and more in {relation}")
    return "".join("\n" + line for line in lines)


def build(
    lake_dir: Path,
    *,
    project_dir: Path | None = None,
    select: str | None = None,
    full_refresh: bool = False,
    warehouse_wait: float = 0.0,
    engine: Engine = Engine.duckdb,
    force: bool = False,
) -> BuildResult:
    """Run `dbt build` on the landed change feed of `lake_dir`.

    Waits up to `warehouse_wait` seconds for another process to let go of the DuckDB warehouse,
    then raises WarehouseBusy naming it.

    `full_refresh` rebuilds every incremental model from everything landed (after a change to a
    macro, which the models' fingerprints do not cover).

    A build whose inputs (landed files, project, profile, engine) and warehouse are those of the
    last successful one is not run: the result says `up_to_date` (extractor.build.freshness).
    `force`, `full_refresh` and `select` always run. When only new files landed since a
    successful build (same project, untouched warehouse), the seeds, their tests and the unit
    tests, which check the project rather than the data, are not run again.

    Raises EmptyLandingZoneError when no Parquet file has landed under
    `<lake_dir>/landing/changefeed/`, SeedError (seeds.py) naming the rows of the projected
    attributes' seed that cannot be projected, before dbt starts, PolicyError and
    PrivacyKeyError (extractor.privacy) for a privacy policy that cannot be applied or lacks its
    key, SparkUnavailable when the
    Spark engine is asked for and is not installed. Warnings (malformed values, quarantined
    metadata) do not make the build fail;
    failed models and tests do, and are named in the result.
    """
    lake = Lake(Path(lake_dir).resolve())
    if LandingZone(lake).files() is None:
        raise EmptyLandingZoneError(
            f"the landing zone {lake.changefeed} holds no Parquet file: "
            "run the extractor before building"
        )
    project = _project(project_dir)
    privacy = _privacy_state(check_policy(project))
    setup = project_digest(project, _profile(project), f"{engine.value}\0{privacy}")
    inputs = inputs_digest(lake, setup)
    state = warehouse_state(lake, engine.value)
    fresh = is_up_to_date(lake.build_stamp, inputs, state)
    if fresh and not (force or full_refresh or select):
        warehouse = lake.warehouse if engine is Engine.duckdb else None
        return BuildResult(success=True, warehouse=warehouse, up_to_date=True)
    # after the freshness check: an unchanged project passed it in the last successful build
    check_projected_tags(project)
    if privacy != _built_privacy_state(lake) and not full_refresh:
        log.warning(
            "the privacy policy changed since the last build: every model is rebuilt "
            "(--full-refresh), so that no table keeps values under the old policy"
        )
        full_refresh = True
    if engine is Engine.duckdb:
        wait_for_warehouse(lake.warehouse, warehouse_wait)
    project_checked = same_project(lake.build_stamp, setup, state)
    forget(lake.build_stamp)
    arguments = ["build"]
    if select:
        arguments += ["--select", select]
    if full_refresh:
        arguments.append("--full-refresh")
    elif project_checked and not (select or force):
        # the last build loaded these seeds and passed these checks of the project itself
        arguments += ["--exclude", *_PROJECT_CHECKS]
    outcome = run_dbt(lake.root, arguments, project_dir=project_dir, engine=engine)

    failed: list[str] = []
    warned: list[str] = []
    skipped: list[str] = []
    messages: dict[str, str] = {}
    for unique_id, status, message, node in _node_results(outcome):
        if status in FAILING_STATUSES:
            failed.append(unique_id)
            stored = _stored_failures(lake.warehouse, node) if node is not None else ""
            messages[unique_id] = message + stored
        elif status == "warn":
            warned.append(unique_id)
        elif status == "skipped":
            skipped.append(unique_id)
    error = None if outcome.exception is None else str(outcome.exception)
    success = bool(outcome.success) and not failed and error is None
    if success and not select:  # a selection leaves the other models as they were
        record(lake.build_stamp, inputs, warehouse_state(lake, engine.value), setup)
        write_whole(lake.privacy_stamp, json.dumps({"policy": privacy}))
    return BuildResult(
        success=success,
        failed=failed,
        warned=warned,
        skipped=skipped,
        messages=messages,
        error=error,
        warehouse=lake.warehouse if engine is Engine.duckdb else None,
        full_refresh=full_refresh,
    )


def _privacy_state(policy: Policy | None) -> str:
    """Names the policy and its key (a keyed check, not the key) a build applies."""
    if policy is None:
        return "none"
    return policy.fingerprint + (f":{key_check()}" if policy.needs_key else "")


def _built_privacy_state(lake: Lake) -> str:
    """The last successful build's; `none` for a lake built before policies existed."""
    try:
        return str(json.loads(lake.privacy_stamp.read_text())["policy"])
    except (FileNotFoundError, ValueError, KeyError, TypeError):
        return "none"


def _node_results(outcome: Any) -> Iterator[tuple[str, str, str, Any]]:
    """Each node's unique id, status (lower case), message and, in this process, the node."""
    if isinstance(outcome, SparkOutcome):
        for entry in outcome.results:
            yield entry["unique_id"], str(entry["status"]).lower(), str(entry["message"]), None
        return
    for node_result in outcome.result or []:
        status = str(getattr(node_result.status, "value", node_result.status)).lower()
        yield node_result.node.unique_id, status, str(node_result.message), node_result.node
