"""The scheduled job as an operator runs it, and the checks that two lakes hold the same tables.

`run_job` and `start_job` run `python -m extractor run` as a subprocess against a service URL;
`kill_when` SIGKILLs a running job the moment a condition on the file system holds, and says
whether the job was still running when it was killed. The comparisons read the Delta tables
back with `deltalake` and the landing zone and warehouse with DuckDB.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from extractor.delta import TABLE_KEYS, TABLES
from extractor.lake import Lake
from extractor.landing import LandingZone
from support.lake_checks import delta_rows

JOB_TIMEOUT = 240.0

# Columns that legitimately differ between two lakes fed the same archive: when a row was read.
EXTRACTION_TIME_COLUMNS = frozenset({"metadata_extracted_at", "extracted_at"})
# The service computes `state` when the feed is read, so it also depends on *when* a lake read an
# event; it only differs between lakes that read the archive at different points of its life.
READ_TIME_COLUMNS = EXTRACTION_TIME_COLUMNS | {"feed_state"}

_VERSION_FILE = re.compile(r"^(\d{20})\.json$")


def job_command(url: str, lake: Path, *options: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "extractor",
        "run",
        "--url",
        url,
        "--lake",
        str(lake),
        "--lag",
        "0",
        *options,
    ]


def _environment() -> dict[str, str]:
    return {**os.environ, "NO_COLOR": "1", "DBT_THREADS": os.environ.get("DBT_THREADS", "2")}


def run_job(
    url: str, lake: Path, *options: str, timeout: float = JOB_TIMEOUT
) -> subprocess.CompletedProcess[str]:
    """One `dicom-lake run`, to the end; the caller checks the exit code."""
    return subprocess.run(
        job_command(url, lake, *options),
        capture_output=True,
        text=True,
        timeout=timeout,
        env=_environment(),
    )


def run_clean(url: str, lake: Path, *options: str) -> subprocess.CompletedProcess[str]:
    """A run that must succeed. 99 ("nothing new") counts as success; its output is kept."""
    result = run_job(url, lake, *options)
    assert result.returncode in (0, 99), (
        f"exit {result.returncode}\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}"
    )
    return result


@dataclass
class Job:
    """A job started in the background; its output goes to files (no pipe to fill up)."""

    process: subprocess.Popen[bytes]
    stdout: Path
    stderr: Path

    def wait(self, timeout: float = JOB_TIMEOUT) -> int:
        return self.process.wait(timeout=timeout)

    def output(self) -> str:
        return (
            self.stdout.read_text(errors="replace")[-3000:]
            + "\n"
            + self.stderr.read_text(errors="replace")[-5000:]
        )


def start_job(url: str, lake: Path, *options: str, logs: Path) -> Job:
    logs.mkdir(parents=True, exist_ok=True)
    number = len(list(logs.glob("job-*.out")))
    stdout, stderr = logs / f"job-{number}.out", logs / f"job-{number}.err"
    with open(stdout, "wb") as out, open(stderr, "wb") as err:
        process = subprocess.Popen(
            job_command(url, lake, *options), stdout=out, stderr=err, env=_environment()
        )
    return Job(process, stdout, stderr)


def kill_when(job: Job, condition: Callable[[], bool], timeout: float = JOB_TIMEOUT) -> bool:
    """SIGKILL the job as soon as `condition()` holds; True if it was still running then.

    The condition is polled in a tight loop (the points we aim at can last a few milliseconds).
    False means the job ended (or the time ran out) before the condition held: the kill missed.
    """
    deadline = time.monotonic() + timeout
    process = job.process
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        if condition():
            # Still running at this very moment? Then the kill lands mid-way.
            running = process.poll() is None
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=30)
            return running and process.returncode == -signal.SIGKILL
        time.sleep(0.0002)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    return False


# -- the lake's files ------------------------------------------------------------------------


def landed_files(lake: Path) -> list[Path]:
    return sorted(Lake(lake).changefeed.glob("changefeed-*.parquet"))


def delta_version(lake: Path, table: str) -> int:
    """The newest committed version of `<lake>/delta/<table>`; -1 if the table does not exist."""
    try:
        names = os.listdir(Path(Lake(lake).default_delta_table(table)) / "_delta_log")
    except FileNotFoundError:
        return -1
    versions = [int(match.group(1)) for name in names if (match := _VERSION_FILE.match(name))]
    return max(versions, default=-1)


def delta_versions(lake: Path) -> dict[str, int]:
    return {table: delta_version(lake, table) for table in TABLES}


# -- comparisons -------------------------------------------------------------------------------


def lake_tables(lake: Path, ignore: Iterable[str] = EXTRACTION_TIME_COLUMNS) -> dict[str, list]:
    """The current content of the four Delta tables, sorted by key, minus the ignored columns."""
    ignored = set(ignore)
    tables: dict[str, list[dict[str, Any]]] = {}
    for table in TABLES:
        rows = delta_rows(Lake(lake).default_delta_table(table))
        tables[table] = [
            {name: value for name, value in row.items() if name not in ignored} for row in rows
        ]
    return tables


def assert_same_tables(
    lake: Path, reference: Path, ignore: Iterable[str] = EXTRACTION_TIME_COLUMNS
) -> None:
    """The Delta tables of `lake` equal those of `reference`, row for row, column for column."""
    ours, theirs = lake_tables(lake, ignore), lake_tables(reference, ignore)
    for table in TABLES:
        assert len(ours[table]) == len(theirs[table]), table
        for mine, expected in zip(ours[table], theirs[table], strict=True):
            assert mine == expected, (table, _differences(mine, expected))


def _differences(mine: dict[str, Any], expected: dict[str, Any]) -> dict[str, Any]:
    names = set(mine) | set(expected)
    return {
        name: (mine.get(name), expected.get(name))
        for name in sorted(names)
        if mine.get(name) != expected.get(name)
    }


def delta_instance_keys(lake: Path) -> list[tuple[str, str, str, str]]:
    rows = delta_rows(Lake(lake).default_delta_table("instance"))
    return sorted(tuple(row[key] for key in TABLE_KEYS["instance"]) for row in rows)


def assert_delta_matches_service(service: Any, lake: Path) -> None:
    """The Delta `instance` table holds exactly the service's instances, and its history every
    event of the feed, each once."""
    assert delta_instance_keys(lake) == sorted(service.store.instance_keys())
    latest = service.store.latest(include_metadata=False)
    history = delta_rows(Lake(lake).default_delta_table("instance_history"))
    sequences = sorted(row["sequence"] for row in history)
    assert sequences == list(range(1, (latest.sequence if latest else 0) + 1))


def assert_nothing_duplicated(lake: Path, service: Any) -> None:
    """Every sequence of the feed landed exactly once, and is staged exactly once."""
    latest = service.store.latest(include_metadata=False)
    expected = latest.sequence if latest else 0
    pattern = Lake(lake).changefeed_glob
    with duckdb.connect() as connection:
        total, distinct, low, high = connection.execute(
            "select count(*), count(distinct sequence), min(sequence), max(sequence)"
            " from read_parquet(?)",
            [pattern],
        ).fetchone()
    assert (total, distinct, low, high) == (expected, expected, 1, expected)
    with duckdb.connect(str(Lake(lake).warehouse), read_only=True) as connection:
        staged = connection.execute(
            "select count(*), count(distinct sequence) from main.stg_landing__changefeed"
        ).fetchone()
    assert staged == (expected, expected)


def leftovers(lake: Path) -> list[str]:
    """Temporary files a killed job left in the landing zone."""
    return sorted(path.name for path in Lake(lake).changefeed.glob(".*.tmp"))


class LogTail:
    """Text appended to a log file since this object was made (dbt appends to one dbt.log)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = path.stat().st_size if path.exists() else 0
        self.tail = ""

    def shows(self, marker: str) -> bool:
        """True once `marker` has been written to the file since this object was made."""
        try:
            with open(self.path, "rb") as log:
                log.seek(self.offset)
                chunk = log.read()
        except FileNotFoundError:
            return False
        self.offset += len(chunk)
        text = self.tail + chunk.decode(errors="replace")
        if marker in text:
            return True
        self.tail = text[-len(marker) :]
        return False


def wait_until(condition: Callable[[], bool], job: Job, timeout: float = 60.0) -> bool:
    """Wait until `condition()` holds while the job runs; False if the job ended first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and job.process.poll() is None:
        if condition():
            return job.process.poll() is None
        time.sleep(0.001)
    return False


def landed_max_sequence(lake: Path) -> int:
    watermark = LandingZone(lake).watermark()
    return 0 if watermark is None else watermark.sequence
