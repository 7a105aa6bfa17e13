"""One run of a command: its steps under the lake's lock, one report, one closing log record.

The command line chooses the steps; `execute` runs them, so `extract`, `build` and `run` fail,
log and exit the same way.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

from extractor.job.history import now_text, record_run
from extractor.job.lock import LakeBusy, UnsafeLock, run_lock
from extractor.job.logs import fields, start_run
from extractor.job.outcome import ExitCode, JobFailure, JobReport, mark
from extractor.job.steps import Run
from extractor.lake import Lake
from extractor.landing import LandingZone

log = logging.getLogger("dicom_lake")


def execute(command: str, lake_dir: Path, steps: Callable[[Run], None]) -> JobReport:
    """Run the steps under the lake's lock; returns the report, raises JobFailure on failure.

    Whatever happens, one closing log record carries the run id, durations, counts and the
    watermark before and after; the same record is kept under <lake>/runs/ (job/history.py).
    """
    lake = Lake(lake_dir)
    landing = LandingZone(lake)
    report = JobReport(command=command, run_id=start_run())
    started = time.monotonic()
    started_at = now_text()
    outcome = "failed"
    error: dict[str, object] = {}
    try:
        with run_lock(lake, report.run_id, command):
            report.watermark_before = landing.watermark()
            steps(Run(lake, landing, report))
        outcome = "nothing new" if report.nothing_new else "ok"
        return report
    except LakeBusy as busy:
        outcome = "lake busy"
        error = {"exit_code": int(ExitCode.LAKE_BUSY), "error": str(busy)}
        raise JobFailure(ExitCode.LAKE_BUSY, str(busy)) from None
    except UnsafeLock as unsafe:
        outcome = "unsafe lock"
        error = {"exit_code": int(ExitCode.LANDING_FAILURE), "error": str(unsafe)}
        raise JobFailure(ExitCode.LANDING_FAILURE, str(unsafe)) from None
    except JobFailure as failure:
        outcome = failure.code.name.lower()
        error = {"exit_code": int(failure.code), "error": failure.message}
        raise
    except Exception as unexpected:
        error = {
            "exit_code": int(ExitCode.FAILED),
            "error": f"{type(unexpected).__name__}: {unexpected}",
        }
        raise
    finally:
        report.durations["total"] = time.monotonic() - started
        after = landing.watermark() if lake.root.exists() else None
        level = logging.INFO if outcome in {"ok", "nothing new"} else logging.ERROR
        closing = {
            "outcome": outcome,
            "watermark_after": mark(after),
            **error,
            **report.log_fields(),
        }
        log.log(level, "%s finished: %s", command, outcome, extra=fields(**closing))
        if lake.root.exists():
            _keep_record(
                lake,
                {
                    "run_id": report.run_id,
                    "started_at": started_at,
                    "finished_at": now_text(),
                    **closing,
                },
            )


def _keep_record(lake: Lake, record: dict[str, object]) -> None:
    """The run's history is a convenience: a lake that cannot take it still ran."""
    try:
        record_run(lake, record)
    except OSError as unwritable:
        log.warning("the run's record could not be kept under %s: %s", lake.runs, unwritable)
