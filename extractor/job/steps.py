"""The job's steps (extract, build, publish), each timed, with failures turned into exit codes.

Every step takes the `Run` that `execute` (run.py) hands to the command's steps: the lake, its
landing zone (whose watermark is read once per run and moves as files land) and the report.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from requests import Session

from extractor.build import (
    BuildResult,
    EmptyLandingZoneError,
    Engine,
    SeedError,
    SparkUnavailable,
    WarehouseBusy,
    build,
)
from extractor.delta import DeltaProfile, publish
from extractor.job.logs import fields
from extractor.job.outcome import ExitCode, JobFailure, JobReport
from extractor.job.progress import extract_progress
from extractor.lake import Lake
from extractor.landing import LandingZone
from extractor.privacy import PolicyError, PrivacyKeyError, check_policy
from extractor.sources import (
    AuthFailure,
    OnPage,
    SourceError,
    SourceUnreachable,
    make_session,
)
from extractor.sources.azure import AzureSettings, azure_auth, extract, http_page_fetcher
from extractor.sources.orthanc import OrthancSettings, basic_auth_from_env, extract_orthanc

log = logging.getLogger("dicom_lake")


@dataclass
class Run:
    """One run of a command: what its steps share."""

    lake: Lake
    landing: LandingZone
    report: JobReport


@contextmanager
def timed(report: JobReport, stage: str) -> Iterator[None]:
    started = time.monotonic()
    try:
        yield
    finally:
        report.durations[stage] = time.monotonic() - started


@contextmanager
def _extract_failures(lake: Lake) -> Iterator[None]:
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
            ExitCode.LANDING_FAILURE, f"cannot write the landing zone {lake.root}: {error}"
        ) from None


@contextmanager
def _extracting(run: Run, session: Session, *, show_progress: bool) -> Iterator[OnPage]:
    """Around a source's extract: the session closed after, failures as exit codes, timing and
    the progress line; yields the extract's per-page callback."""
    with (
        session,
        _extract_failures(run.lake),
        timed(run.report, "extract"),
        extract_progress(enabled=show_progress) as on_page,
    ):
        yield on_page


def protect_at_landing(run: Run, project: Path) -> None:
    """Have the landing zone apply the project's privacy policy to what lands (docs/privacy.md)."""
    try:
        policy = check_policy(project)
    except (PolicyError, PrivacyKeyError) as error:
        raise JobFailure(ExitCode.CONFIGURATION, str(error)) from None
    if policy is None:
        raise JobFailure(
            ExitCode.CONFIGURATION,
            f"--protect-at-landing: the privacy policy of {project} keeps everything (its "
            "privacy_profile var is none and seeds/dicom_privacy.csv has no rows): there is "
            "nothing to apply",
        )
    run.landing.policy = policy
    log.info("the landing zone applies privacy policy %s", policy.fingerprint)


def extract_step(run: Run, settings: AzureSettings, *, show_progress: bool) -> None:
    auth = azure_auth() if settings.auth == "azure" else None
    session = make_session(auth, settings.max_retries)
    fetch = http_page_fetcher(session, settings.service_url, settings.page_size, settings.timeout)
    with _extracting(run, session, show_progress=show_progress) as on_page:
        run.report.extract = extract(settings, fetch, run.landing, on_page=on_page)


def extract_orthanc_step(run: Run, settings: OrthancSettings, *, show_progress: bool) -> None:
    """extract_step for Orthanc: new instances from /changes, deletes by reconciliation."""
    try:
        auth = basic_auth_from_env()
    except ValueError as error:
        raise JobFailure(ExitCode.USAGE, str(error)) from None
    session = make_session(auth, settings.max_retries)
    with _extracting(run, session, show_progress=show_progress) as on_page:
        run.report.extract = summary = extract_orthanc(
            settings, session, run.landing, on_page=on_page
        )
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
    run: Run,
    dbt_project: Path | None,
    *,
    full_refresh: bool,
    warehouse_wait: float = 60.0,
    engine: Engine = Engine.duckdb,
) -> BuildResult:
    try:
        with timed(run.report, "build"):
            result = build(
                run.lake.root,
                project_dir=dbt_project,
                full_refresh=full_refresh,
                warehouse_wait=warehouse_wait,
                engine=engine,
            )
    except (EmptyLandingZoneError, FileNotFoundError, SparkUnavailable) as error:
        raise JobFailure(ExitCode.BUILD_FAILURE, str(error)) from None
    except WarehouseBusy as error:
        raise JobFailure(ExitCode.WAREHOUSE_BUSY, str(error)) from None
    except (SeedError, PolicyError, PrivacyKeyError) as error:
        raise JobFailure(ExitCode.CONFIGURATION, str(error)) from None
    run.report.build = result
    if not result.success:
        raise JobFailure(ExitCode.BUILD_FAILURE, describe_build_failure(result))
    return result


def describe_build_failure(result: BuildResult) -> str:
    """Names each failing model or test, with dbt's message."""
    lines = ["dbt build failed" + (f": {result.error}" if result.error else "")]
    lines += [f"  {node}: {result.messages.get(node, '')}".rstrip(": ") for node in result.failed]
    return "\n".join(lines)


def publish_step(
    run: Run,
    delta_uri: str | None,
    *,
    partition_delta: bool,
    full_refresh: bool,
    profile: DeltaProfile = DeltaProfile.standard,
    adf_tables: bool = False,
) -> None:
    try:
        with timed(run.report, "publish"):
            run.report.publication = publish(
                run.lake.root,
                delta_uri,
                watermark=run.landing.watermark(),
                partition_by_partition_name=partition_delta,
                full_refresh=full_refresh,
                profile=profile,
                adf_tables=adf_tables,
            )
    except Exception as error:  # any storage failure: each table stays at its old or new version
        raise JobFailure(ExitCode.PUBLISH_FAILURE, f"Delta publication failed: {error}") from None
