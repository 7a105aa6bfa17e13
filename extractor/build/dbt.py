"""Run the dbt project (`dbt build`: seeds, models, tests) on a lake directory.

The project's profile, `profiles.example.yml`, takes everything from the environment, so nobody
needs a ~/.dbt/profiles.yml: this module copies it to `<lake>/dbt/profiles.yml` (unless
DBT_PROFILES_DIR is set), passes `--profiles-dir`, and sets DICOM_LAKE_DIR. dbt's target/ and
logs/ go under `<lake>/dbt/`, next to the warehouse `<lake>/warehouse.duckdb`.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from extractor.build.project import project_dir as bundled_project_dir
from extractor.build.warehouse import wait_for_warehouse
from extractor.lake import Lake
from extractor.landing import LandingZone

FAILING_STATUSES = {"error", "fail", "runtime error"}


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


def run_dbt(lake_dir: Path, arguments: list[str], *, project_dir: Path | None = None) -> Any:
    """Invoke dbt in this process on `lake_dir` and return dbt's `dbtRunnerResult`.

    `arguments` start with the command (`build`, `show`, ...); the project, profile, target and
    log directories and the DICOM_LAKE_DIR variable are added here.
    """
    from dbt.cli.main import dbtRunner

    lake = Lake(Path(lake_dir).resolve())
    project = Path(project_dir).resolve() if project_dir is not None else bundled_project_dir()
    if not (project / "dbt_project.yml").is_file():
        raise FileNotFoundError(f"no dbt_project.yml in {project}")
    lake.root.mkdir(parents=True, exist_ok=True)
    full_arguments = [
        *arguments,
        "--project-dir",
        str(project),
        *_profiles_arguments(project, lake.dbt),
        "--target-path",
        str(lake.dbt_target),
        "--log-path",
        str(lake.dbt_logs),
        "--no-use-colors",
        "--quiet",
    ]
    environment = {"DICOM_LAKE_DIR": str(lake.root), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    with _environment(environment):
        try:
            return dbtRunner().invoke(full_arguments)
        finally:
            _release_duckdb()


def _profiles_arguments(project: Path, dbt_dir: Path) -> list[str]:
    """dbt's own DBT_PROFILES_DIR wins; otherwise the project's example profile, as shipped."""
    if os.environ.get("DBT_PROFILES_DIR"):
        return []
    dbt_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(project / "profiles.example.yml", dbt_dir / "profiles.yml")
    return ["--profiles-dir", str(dbt_dir)]


_SHOWN_FAILURES = 10


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
) -> BuildResult:
    """Run `dbt build` on the landed change feed of `lake_dir`.

    Waits up to `warehouse_wait` seconds for another process to let go of the warehouse, then
    raises WarehouseBusy naming it.

    `full_refresh` rebuilds every incremental model from everything landed (after a change to a
    macro, which the models' fingerprints do not cover).

    Raises EmptyLandingZoneError when no Parquet file has landed under
    `<lake_dir>/landing/changefeed/`. Warnings (malformed values, quarantined metadata) do not
    make the build fail; failed models and tests do, and are named in the result.
    """
    lake = Lake(Path(lake_dir).resolve())
    if LandingZone(lake).files() is None:
        raise EmptyLandingZoneError(
            f"the landing zone {lake.changefeed} holds no Parquet file: "
            "run the extractor before building"
        )
    wait_for_warehouse(lake.warehouse, warehouse_wait)
    arguments = ["build"]
    if select:
        arguments += ["--select", select]
    if full_refresh:
        arguments.append("--full-refresh")
    outcome = run_dbt(lake.root, arguments, project_dir=project_dir)

    failed: list[str] = []
    warned: list[str] = []
    skipped: list[str] = []
    messages: dict[str, str] = {}
    for node_result in outcome.result or []:
        unique_id = node_result.node.unique_id
        status = str(getattr(node_result.status, "value", node_result.status)).lower()
        if status in FAILING_STATUSES:
            failed.append(unique_id)
            messages[unique_id] = str(node_result.message) + _stored_failures(
                lake.warehouse, node_result.node
            )
        elif status == "warn":
            warned.append(unique_id)
        elif status == "skipped":
            skipped.append(unique_id)
    error = None if outcome.exception is None else str(outcome.exception)
    return BuildResult(
        success=bool(outcome.success) and not failed and error is None,
        failed=failed,
        warned=warned,
        skipped=skipped,
        messages=messages,
        error=error,
        warehouse=lake.warehouse,
    )
