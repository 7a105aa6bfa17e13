"""Whether a build (or a publication) has anything to do.

A successful build leaves a stamp, `<lake>/dbt/last-build.json`: a digest of everything its
result depends on (the landed files, the dbt project's files, the profile, the engine) and the
warehouse file as the build left it. A later build with the same digest and an untouched
warehouse would rebuild and re-test the same rows to the same result, so it is skipped (a
scheduled run that found nothing new then costs a directory listing, not a `dbt build`). The
stamp is removed before dbt starts, so a build that fails or is killed leaves none. The
publication keeps a stamp of its own the same way (extractor.delta.publish).

The build's stamp also records the project's own digest: when only new files landed since a
successful build of the same project on an untouched warehouse, the seeds it loaded are there
and the checks of the project itself (unit tests, the seeds' tests) would pass again, so the
next build runs the models and their data tests only (extractor.build.dbt).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path

import yaml

from extractor.lake import Lake

# dbt's defaults for the folders a project reads (dbt_project.yml may name others)
_PROJECT_FOLDERS = {
    "model-paths": ["models"],
    "macro-paths": ["macros"],
    "seed-paths": ["seeds"],
    "test-paths": ["tests"],
    "snapshot-paths": ["snapshots"],
    "analysis-paths": ["analyses"],
}
# the files dbt reads there (tests/ holds the Python suite too, whose caches change every run)
_PROJECT_SUFFIXES = {".sql", ".yml", ".yaml", ".csv", ".md"}


def project_digest(project: Path, profile: Path, setting: str) -> str:
    """A digest of how a build runs: each project file and the profile by content, and a
    setting (the engine, the privacy policy in force)."""
    digest = hashlib.sha256(setting.encode())
    for path in [profile, *_project_files(project)]:
        digest.update(f"\0file\0{path}\0".encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def inputs_digest(lake: Lake, project: str) -> str:
    """A digest of what a build reads: the project (`project_digest`), the lake's place (a moved
    lake's models point elsewhere) and each landed file by name, size and modification time
    (landed files are never rewritten in place)."""
    digest = hashlib.sha256(f"{project}\0{lake.root}".encode())
    for path in sorted(lake.changefeed.glob("*.parquet")):
        stat = path.stat()
        digest.update(f"\0landed\0{path.name}\0{stat.st_size}\0{stat.st_mtime_ns}".encode())
    return digest.hexdigest()


def _project_files(project: Path) -> Iterator[Path]:
    config_file = project / "dbt_project.yml"
    yield config_file
    config = yaml.safe_load(config_file.read_text()) or {}
    for key, default in _PROJECT_FOLDERS.items():
        for folder in config.get(key, default):
            root = project / folder
            if root.is_dir():
                yield from sorted(
                    path
                    for path in root.rglob("*")
                    if path.suffix in _PROJECT_SUFFIXES and path.is_file()
                )


def warehouse_state(lake: Lake, engine: str = "duckdb") -> list[int] | None:
    """The DuckDB warehouse's size and modification time: a session that changed it since the
    stamp (or a deleted file) makes the next build or publication run. Spark's tables are not
    stat-ed."""
    if engine != "duckdb":
        return [1] if lake.spark.is_dir() else None
    if not lake.warehouse.is_file():
        return None
    stat = lake.warehouse.stat()
    return [stat.st_size, stat.st_mtime_ns]


def _recorded(stamp: Path) -> dict[str, object]:
    try:
        recorded = json.loads(stamp.read_text())
    except (OSError, ValueError):
        return {}
    return recorded if isinstance(recorded, dict) else {}


def is_up_to_date(stamp: Path, digest: str, state: list[int] | None) -> bool:
    """True when the stamp records the same inputs and warehouse state."""
    recorded = _recorded(stamp)
    return state is not None and (recorded.get("inputs"), recorded.get("warehouse")) == (
        digest,
        state,
    )


def same_project(stamp: Path, project: str, state: list[int] | None) -> bool:
    """True when the stamp's build ran the same project (`project_digest`) and nothing touched
    the warehouse since: the seeds it loaded are still there, and the checks of the project
    itself (unit tests, seed tests) would pass again."""
    recorded = _recorded(stamp)
    return state is not None and (recorded.get("project"), recorded.get("warehouse")) == (
        project,
        state,
    )


def forget(stamp: Path) -> None:
    """Remove a stamp: called before the work it vouches for starts."""
    stamp.unlink(missing_ok=True)


def record(stamp: Path, digest: str, state: list[int] | None, project: str | None = None) -> None:
    """Record a success (written whole, then renamed: never half a stamp)."""
    if state is None:
        return
    recorded: dict[str, object] = {"inputs": digest, "warehouse": state}
    if project is not None:
        recorded["project"] = project
    write_whole(stamp, json.dumps(recorded))


def write_whole(path: Path, text: str) -> None:
    """Write a small file whole or not at all: written aside, then renamed over (the stamps
    here, the run records, the report)."""
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)
