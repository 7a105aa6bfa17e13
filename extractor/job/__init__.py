"""Job: the scheduled run. Its steps (extract, build, publish) under one lock, one report and one
closing log record, with documented exit codes.

`outcome.py` (exit codes, the run's report), `steps.py` (each step, its failures as exit codes),
`run.py` (a command's steps under the lock), `lock.py` (one run per lake), `logs.py` (plain or JSON
log lines with the run id), `progress.py` (the live progress line of an extract).
"""

from extractor.job.logs import configure_logging
from extractor.job.outcome import ExitCode, JobFailure, JobReport
from extractor.job.run import execute
from extractor.job.steps import (
    Run,
    build_step,
    describe_build_failure,
    extract_orthanc_step,
    extract_step,
    protect_at_landing,
    publish_step,
)

__all__ = [
    "ExitCode",
    "JobFailure",
    "JobReport",
    "Run",
    "build_step",
    "configure_logging",
    "describe_build_failure",
    "execute",
    "extract_orthanc_step",
    "extract_step",
    "protect_at_landing",
    "publish_step",
]
