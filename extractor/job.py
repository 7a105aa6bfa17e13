"""The job's steps (extract, build, publish), timed, with failures turned into exit codes.

The command line chooses the steps; this module runs them under one lock and one report, so
`extract`, `build` and `run` fail, log and exit the same way.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import IntEnum
from pathlib import Path
from typing import Any

from extractor.auth import azure_auth
from extractor.changefeed import http_page_fetcher
from extractor.extract import ExtractSummary, extract
from extractor.http import AuthFailure, SourceError, SourceUnreachable, make_session
from extractor.landing import Watermark, read_watermark
from extractor.logs import fields, start_run
from extractor.orthanc import OrthancSettings, basic_auth_from_env, extract_orthanc
from extractor.progress import extract_progress
from extractor.runlock import LakeBusy, run_lock
from extractor.settings import ExtractSettings

log = logging.getLogger("dicom_lake")


class ExitCode(IntEnum):
    """What a run's exit status means; README.md documents them for schedulers."""

    OK = 0
    FAILED = 1  # an unexpected error (a bug): the log has the traceback
    USAGE = 2  # bad flags or settings; nothing was run
    SOURCE_UNREACHABLE = 3
    AUTH_FAILURE = 4
    SOURCE_ERROR = 5  # the service answered, but not usefully (400, 404, lasting 5xx, bad pages)
    BUILD_FAILURE = 6
    PUBLISH_FAILURE = 7
    LANDING_FAILURE = 8  # the landing zone cannot be written (disk full, permissions)
    LAKE_BUSY = 9  # another run holds the lake's lock
    NOTHING_NEW = 99  # not an error: nothing landed and nothing was published (Airflow: skipped)


class JobFailure(Exception):
    def __init__(self, code: ExitCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class JobReport:
    """What one run did: written as the closing log record and read for the exit code."""

    command: str
    run_id: str
    durations: dict[str, float] = field(default_factory=dict)
    watermark_before: Watermark | None = None
    extract: ExtractSummary | None = None
    build: Any = None  # extractor.build.BuildResult
    publication: Any = None  # extractor.publish.PublishResult

    @property
    def nothing_new(self) -> bool:
        landed_nothing = self.extract is not None and self.extract.landed == 0
        published_nothing = self.publication is None or not self.publication.committed
        return landed_nothing and published_nothing

    def log_fields(self) -> dict[str, Any]:
        values: dict[str, Any] = {
            "command": self.command,
            "durations_s": {stage: round(s, 3) for stage, s in self.durations.items()},
            "watermark_before": _mark(self.watermark_before),
        }
        if self.extract is not None:
            values |= {
                "pages": self.extract.pages,
                "entries_read": self.extract.entries_read,
                "already_landed": self.extract.already_landed,
                "landed": self.extract.landed,
                "landed_by_action": dict(self.extract.by_action),
                "files": len(self.extract.files),
            }
        if self.build is not None:
            values |= {"dbt_failed": self.build.failed, "dbt_warned": self.build.warned}
        if self.publication is not None:
            values["published"] = {t.table: t.version for t in self.publication.tables}
        return values


@contextmanager
def _timed(report: JobReport, stage: str) -> Iterator[None]:
    started = time.monotonic()
    try:
        yield
    finally:
        report.durations[stage] = time.monotonic() - started


@contextmanager
def _extract_failures(lake_dir: Path) -> Iterator[None]:
    """A source's or the landing zone's errors, as the job's exit codes."""
    try:
        yield
    except SourceUnreachable as error:
        raise JobFailure(ExitCode.SOURCE_UNREACHABLE, str(error)) from None
    except AuthFailure as error:
        raise JobFailure(ExitCode.AUTH_FAILURE, str(error)) from None
    except SourceError as error:
        raise JobFailure(ExitCode.SOURCE_ERROR, str(error)) from None
    except OSError as error:
        raise JobFailure(
            ExitCode.LANDING_FAILURE, f"cannot write the landing zone {lake_dir}: {error}"
        ) from None


def extract_step(settings: ExtractSettings, report: JobReport, show_progress: bool) -> None:
    auth = azure_auth() if settings.auth == "azure" else None
    session = make_session(auth, settings.max_retries)
    fetch = http_page_fetcher(session, settings.service_url, settings.page_size, settings.timeout)
    with (
        session,
        _extract_failures(settings.lake_dir),
        _timed(report, "extract"),
        extract_progress(enabled=show_progress) as on_page,
    ):
        report.extract = extract(settings, fetch, on_page=on_page)


def extract_orthanc_step(settings: OrthancSettings, report: JobReport, show_progress: bool) -> None:
    """extract_step for Orthanc: new instances from /changes, deletes by reconciliation."""
    try:
        auth = basic_auth_from_env()
    except ValueError as error:
        raise JobFailure(ExitCode.USAGE, str(error)) from None
    session = make_session(auth, settings.max_retries)
    with (
        session,
        _extract_failures(settings.lake_dir),
        _timed(report, "extract"),
        extract_progress(enabled=show_progress) as on_page,
    ):
        report.extract = summary = extract_orthanc(settings, session, on_page=on_page)
    if summary.reconciliation is not None:
        done = summary.reconciliation
        log.info(
            "reconciliation: %s, %d landed as existing, %d deletes landed",
            done.mode,
            done.landed_present,
            done.deleted,
            extra=fields(
                reconciliation=done.mode,
                reconciliation_durations_s={k: round(v, 3) for k, v in done.durations.items()},
            ),
        )


def build_step(
    lake_dir: Path, dbt_project: Path | None, report: JobReport, *, full_refresh: bool = False
) -> None:
    from extractor.build import EmptyLandingZoneError, build

    try:
        with _timed(report, "build"):
            report.build = build(lake_dir, project_dir=dbt_project, full_refresh=full_refresh)
    except (EmptyLandingZoneError, FileNotFoundError) as error:
        raise JobFailure(ExitCode.BUILD_FAILURE, str(error)) from None
    if not report.build.success:
        raise JobFailure(ExitCode.BUILD_FAILURE, describe_build_failure(report.build))


def describe_build_failure(result: Any) -> str:
    """Names each failing model or test, with dbt's message."""
    lines = ["dbt build failed" + (f": {result.error}" if result.error else "")]
    lines += [f"  {node}: {result.messages.get(node, '')}".rstrip(": ") for node in result.failed]
    return "\n".join(lines)


def publish_step(
    lake_dir: Path,
    delta_uri: str | None,
    partition_delta: bool,
    report: JobReport,
    *,
    full_refresh: bool = False,
) -> None:
    from extractor.publish import publish

    try:
        with _timed(report, "publish"):
            report.publication = publish(
                lake_dir,
                delta_uri,
                partition_by_partition_name=partition_delta,
                full_refresh=full_refresh,
            )
    except Exception as error:  # any storage failure: each table stays at its old or new version
        raise JobFailure(ExitCode.PUBLISH_FAILURE, f"Delta publication failed: {error}") from None


def execute(command: str, lake_dir: Path, steps: Callable[[JobReport], None]) -> JobReport:
    """Run the steps under the lake's lock; returns the report, raises JobFailure on failure.

    Whatever happens, one closing log record carries the run id, durations, counts and the
    watermark before and after.
    """
    report = JobReport(command=command, run_id=start_run())
    started = time.monotonic()
    outcome = "failed"
    try:
        with run_lock(lake_dir, report.run_id, command):
            report.watermark_before = read_watermark(lake_dir)
            steps(report)
        outcome = "nothing new" if report.nothing_new else "ok"
        return report
    except LakeBusy as busy:
        outcome = "lake busy"
        raise JobFailure(ExitCode.LAKE_BUSY, str(busy)) from None
    except JobFailure as failure:
        outcome = failure.code.name.lower()
        raise
    finally:
        report.durations["total"] = time.monotonic() - started
        after = read_watermark(lake_dir) if lake_dir.exists() else None
        level = logging.INFO if outcome in {"ok", "nothing new"} else logging.ERROR
        log.log(
            level,
            "%s finished: %s",
            command,
            outcome,
            extra=fields(outcome=outcome, watermark_after=_mark(after), **report.log_fields()),
        )


def _mark(watermark: Watermark | None) -> dict[str, Any] | None:
    if watermark is None:
        return None
    return {"sequence": watermark.sequence, "timestamp": watermark.timestamp.isoformat()}
