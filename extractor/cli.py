"""The `dicom-lake` command line: the one place that reads flags and environment variables."""

from __future__ import annotations

import ipaddress
import logging
import os
import re
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import duckdb
import typer
from typer.exceptions import TyperException

from extractor.build import Engine
from extractor.build.project import project_dir as bundled_project_dir
from extractor.delta import (
    TABLES,
    DeltaProfile,
    UnusableDeltaLocation,
    maintain,
    resolve_delta_uri,
)
from extractor.job import (
    ExitCode,
    JobFailure,
    Run,
    build_step,
    configure_logging,
    execute,
    extract_orthanc_step,
    extract_step,
    protect_at_landing,
    publish_step,
)
from extractor.job.logs import json_line, json_logging, json_requested
from extractor.lake import Lake, unusable_lake_path
from extractor.sources import ExtractSummary, Watermark, public_url
from extractor.sources.azure import AzureSettings, default_auth
from extractor.sources.orthanc import OrthancExtractSummary, OrthancSettings

DATA_QUALITY_MARTS = ("dicom_value_errors", "metadata_quarantine", "feed_anomalies")

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}


# Durations are taken from now or a watermark: ten years keeps every window inside the calendar.
_LONGEST = timedelta(days=3650)


def parse_duration(text: str) -> timedelta:
    """'15m', '90s', '1h', '0' -> timedelta; a bare number means seconds."""
    match = _DURATION.match(text)
    if match is None:
        raise ValueError(f"not a duration: {text!r} (use e.g. 90s, 15m, 1h, 2d)")
    value, unit = match.groups()
    seconds = float(value) * _UNIT_SECONDS[unit or "s"]
    if seconds > _LONGEST.total_seconds():
        raise ValueError(f"{text!r} is longer than the {_LONGEST.days:,} days a duration may be")
    return timedelta(seconds=seconds)


class Source(StrEnum):
    azure = "azure"
    orthanc = "orthanc"


class LogStyle(StrEnum):
    plain = "plain"
    json = "json"


app = typer.Typer(
    help="Keep an analytics copy of a DICOM archive's metadata: change feed -> Parquet -> dbt.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

ServiceUrl = Annotated[
    str,
    typer.Option(
        "--url",
        envvar="DICOM_SERVICE_URL",
        help="Service root, e.g. https://<workspace>-<service>.dicom.azurehealthcareapis.com",
    ),
]
LakeDir = Annotated[
    Path, typer.Option("--lake", envvar="DICOM_LAKE_DIR", help="The lake directory.")
]
Auth = Annotated[
    str | None,
    typer.Option(
        envvar="DICOM_LAKE_AUTH",
        help="azure (DefaultAzureCredential) or none. Default: none on loopback, else azure.",
    ),
]
Lag = Annotated[
    str, typer.Option(envvar="DICOM_LAKE_LAG", help="The window ends this long before now.")
]
Overlap = Annotated[
    str,
    typer.Option(envvar="DICOM_LAKE_OVERLAP", help="Re-read this much before the watermark."),
]
StartTime = Annotated[
    datetime | None,
    typer.Option(
        envvar="DICOM_LAKE_START_TIME",
        formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%S%z"],
        help="Where a first run starts (UTC unless a zone is given). Default: the beginning.",
    ),
]
PageSize = Annotated[
    int | None,
    typer.Option(min=1, help="Entries per request (Azure: 1-200, default 200; Orthanc: 1000)."),
]
SourceKind = Annotated[
    Source,
    typer.Option(envvar="DICOM_LAKE_SOURCE", help="The kind of DICOM server: azure or orthanc."),
]
ReconcileEvery = Annotated[
    int,
    typer.Option(
        min=0,
        envvar="DICOM_LAKE_RECONCILE_EVERY",
        help="Orthanc: look for deleted instances every N runs (0: never).",
    ),
]
ReconcileCheck = Annotated[
    bool,
    typer.Option(help="Orthanc: skip the instance listing when the counts agree."),
]
BatchSize = Annotated[int, typer.Option(min=1, help="Entries per landed Parquet file.")]
Timeout = Annotated[
    float,
    typer.Option(min=0.1, max=86_400, help="Seconds one page may take, all of it."),
]
Retries = Annotated[int, typer.Option(min=0, max=100, help="Retries of a failing request.")]
DeltaUri = Annotated[
    str | None,
    typer.Option(
        envvar="DICOM_LAKE_DELTA_URI",
        help="Where the Delta tables go: a path or abfss://, az:// URI. Default: <lake>/delta.",
    ),
]
DbtProject = Annotated[
    Path | None,
    typer.Option(
        envvar="DICOM_LAKE_DBT_PROJECT",
        help="A dbt project of your own (a copy of this one, edited). Default: the bundled one.",
    ),
]
ProtectAtLanding = Annotated[
    bool,
    typer.Option(
        envvar="DICOM_LAKE_PROTECT_AT_LANDING",
        help="Apply the dbt project's privacy policy to each entry before it lands, so that "
        "identifiers are never written to the lake (docs/privacy.md). The key comes from "
        "DICOM_LAKE_PRIVACY_KEY.",
    ),
]
Publish = Annotated[bool, typer.Option(help="Publish the marts as Delta tables after the build.")]
PartitionDelta = Annotated[
    bool,
    typer.Option(
        "--partition-delta-by-partition-name",
        envvar="DICOM_LAKE_PARTITION_DELTA",
        help="Partition new Delta tables by partition_name.",
    ),
]
DeltaProfileOption = Annotated[
    DeltaProfile,
    typer.Option(
        "--delta-profile",
        envvar="DICOM_LAKE_DELTA_PROFILE",
        help="Delta types of new tables: standard (arrays, timestamp_ntz), or fabric (also what "
        "Fabric's SQL analytics endpoint shows: lists as JSON text, DT as timestamp).",
    ),
]
AdfTables = Annotated[
    bool,
    typer.Option(
        "--adf-tables",
        envvar="DICOM_LAKE_ADF_TABLES",
        help="Also publish the ADF template's instance, series and study tables under "
        "<delta>/adf/.",
    ),
]
LogFormat = Annotated[
    LogStyle,
    typer.Option(
        envvar="DICOM_LAKE_LOG_FORMAT",
        help="Log lines on stderr: plain, or JSON lines for log collectors.",
    ),
]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress line; warnings only.")]
WarehouseWait = Annotated[
    float,
    typer.Option(
        "--warehouse-wait",
        envvar="DICOM_LAKE_WAREHOUSE_WAIT",
        min=0,
        max=86_400,
        help="Seconds to wait for another process (an analyst's DuckDB session) to let go of "
        "warehouse.duckdb before the build gives up with exit 10.",
    ),
]
EngineOption = Annotated[
    Engine,
    typer.Option(
        "--engine",
        envvar="DICOM_LAKE_ENGINE",
        help="What runs the models: duckdb, or spark (local Spark with Delta: the marts are "
        "the Delta tables Spark writes at <lake>/delta, nothing is published; docs/spark.md).",
    ),
]
FullRefresh = Annotated[
    bool,
    typer.Option(
        help="Rebuild every model from all that has landed and re-merge every row into Delta "
        "(after changing a macro)."
    ),
]


@dataclass(frozen=True)
class BuildOptions:
    """What `build` and `run` are told about the build and the publication."""

    dbt_project: Path | None = None
    delta_uri: str | None = None
    publish: bool = True
    partition_delta: bool = False
    full_refresh: bool = False
    delta_profile: DeltaProfile = DeltaProfile.standard
    adf_tables: bool = False
    warehouse_wait: float = 60.0
    engine: Engine = Engine.duckdb

    def spark_conflict(self) -> str | None:
        """Why these options cannot go with the Spark engine, which publishes nothing itself."""
        if self.engine is not Engine.spark:
            return None
        refused = [
            flag
            for flag, given in (
                ("--delta-uri", self.delta_uri is not None),
                ("--partition-delta", self.partition_delta),
                ("--delta-profile fabric", self.delta_profile is not DeltaProfile.standard),
                ("--adf-tables", self.adf_tables),
            )
            if given
        ]
        if not refused:
            return None
        return (
            f"{', '.join(refused)}: not with --engine spark, whose marts are the Delta tables "
            "Spark writes at <lake>/delta (docs/spark.md)"
        )


def main() -> None:
    """The `dicom-lake` command. With JSON logs asked for, a bad flag is told as a JSON line too."""
    if not json_requested(sys.argv[1:], dict(os.environ)):
        app(prog_name="dicom-lake")
        return
    try:
        code = app(prog_name="dicom-lake", standalone_mode=False)
    except typer.Abort:
        sys.exit(1)
    except TyperException as error:  # since typer 0.29, click's errors derive from it
        exit_code = getattr(error, "exit_code", int(ExitCode.USAGE))
        message = error.format_message() if hasattr(error, "format_message") else str(error)
        print(json_line("error", message, exit_code=exit_code), file=sys.stderr)
        sys.exit(exit_code)
    sys.exit(code if isinstance(code, int) else 0)


def _fail(code: ExitCode, message: str) -> typer.Exit:
    if json_logging() or json_requested(sys.argv[1:], dict(os.environ)):
        print(json_line("error", message, exit_code=int(code)), file=sys.stderr)
    else:
        typer.secho(f"error: {message}", err=True, fg=typer.colors.RED)
    return typer.Exit(int(code))


def _execute(
    command: str, lake: Path, *, quiet: bool, log_format: str, steps: Callable[[Run], None]
) -> None:
    """Run a command's steps as one job and exit with its documented code."""
    configure_logging(quiet=quiet, log_format=log_format)
    unusable = unusable_lake_path(lake)
    if unusable is not None:
        raise _fail(ExitCode.USAGE, unusable)
    try:
        report = execute(command, lake, steps)
    except JobFailure as failure:
        raise _fail(failure.code, failure.message) from None
    raise typer.Exit(int(ExitCode.NOTHING_NEW if report.nothing_new else ExitCode.OK))


def _source_settings(
    source: Source,
    *,
    url: str,
    auth: str | None,
    lag: str,
    overlap: str,
    start_time: datetime | None,
    page_size: int | None,
    batch_size: int,
    timeout: float,
    retries: int,
    reconcile_every: int,
    reconcile_check: bool,
) -> AzureSettings | OrthancSettings:
    if not url:
        raise _fail(ExitCode.USAGE, "no service URL: pass --url or set DICOM_SERVICE_URL")
    if start_time is not None and start_time.tzinfo is None:
        start_time = start_time.replace(tzinfo=UTC)
    try:
        if source is Source.orthanc:
            return OrthancSettings(
                url=url,
                page_size=page_size or 1000,
                batch_size=batch_size,
                timeout=timeout,
                max_retries=retries,
                reconcile_every=reconcile_every,
                reconcile_check=reconcile_check,
            )
        return AzureSettings(
            service_url=url,
            auth=auth or default_auth(url),
            lag=parse_duration(lag),
            overlap=parse_duration(overlap),
            start_time=start_time,
            page_size=page_size or 200,
            batch_size=batch_size,
            timeout=timeout,
            max_retries=retries,
        )
    except ValueError as error:
        raise _fail(ExitCode.USAGE, str(error)) from None


def _extract_and_describe(
    run: Run,
    settings: AzureSettings | OrthancSettings,
    *,
    quiet: bool,
    protect: bool,
    dbt_project: Path | None,
) -> None:
    if protect:
        protect_at_landing(run, dbt_project or bundled_project_dir())
    if isinstance(settings, OrthancSettings):
        extract_orthanc_step(run, settings, show_progress=not quiet)
        typer.echo(describe(run.report.extract, settings.url))
    else:
        extract_step(run, settings, show_progress=not quiet)
        typer.echo(describe(run.report.extract, settings.service_url))


@app.command("extract")
def extract_command(
    url: ServiceUrl = "",
    source: SourceKind = Source.azure,
    lake: LakeDir = Path("lake"),
    auth: Auth = None,
    lag: Lag = "15m",
    overlap: Overlap = "15m",
    start_time: StartTime = None,
    page_size: PageSize = None,
    batch_size: BatchSize = 5000,
    timeout: Timeout = 60.0,
    retries: Retries = 8,
    reconcile_every: ReconcileEvery = 1,
    reconcile_check: ReconcileCheck = True,
    protect_at_landing: ProtectAtLanding = False,
    dbt_project: DbtProject = None,
    quiet: Quiet = False,
    log_format: LogFormat = LogStyle.plain,
) -> None:
    """Read the change feed and land what is new as Parquet under <lake>/landing/changefeed."""
    settings = _source_settings(
        source,
        url=url,
        auth=auth,
        lag=lag,
        overlap=overlap,
        start_time=start_time,
        page_size=page_size,
        batch_size=batch_size,
        timeout=timeout,
        retries=retries,
        reconcile_every=reconcile_every,
        reconcile_check=reconcile_check,
    )
    _execute(
        "extract",
        lake,
        quiet=quiet,
        log_format=log_format,
        steps=lambda run: _extract_and_describe(
            run, settings, quiet=quiet, protect=protect_at_landing, dbt_project=dbt_project
        ),
    )


def describe(summary: ExtractSummary | None, source_url: str) -> str:
    """The closing summary of an extract."""
    assert summary is not None, "describe() follows a finished extract"
    before, after = summary.watermark_before, summary.watermark_after
    lines = [f"source          {public_url(source_url)}"]
    if isinstance(summary, OrthancExtractSummary):
        reconciled = summary.reconciliation.mode if summary.reconciliation else "not this run"
        lines.append(f"changes         read to {summary.read_to:,}; reconciliation: {reconciled}")
    else:
        start = summary.window_start
        shown = "the beginning" if start.year == 1 else f"{start:%F %T}"
        lines.append(f"window          {shown} to {summary.window_end:%F %T} UTC")
    lines.append(
        f"pages read      {summary.pages:,} ({summary.entries_read:,} entries, "
        f"{summary.already_landed:,} already landed)"
    )
    if summary.landed:
        actions = ", ".join(f"{action} {n:,}" for action, n in sorted(summary.by_action.items()))
        files = len(summary.files)
        lines.append(f"landed          {summary.landed:,} entries ({actions}) in {files} file(s)")
    else:
        lines.append("landed          nothing new: no file written")
    lines.append(f"watermark       {_describe_watermark(before)} -> {_describe_watermark(after)}")
    return "\n".join(lines)


def _describe_watermark(watermark: Watermark | None) -> str:
    if watermark is None:
        return "none"
    return f"sequence {watermark.sequence:,} at {watermark.timestamp:%F %T.%f} UTC"


@app.command("build")
def build_command(
    lake: LakeDir = Path("lake"),
    dbt_project: DbtProject = None,
    delta_uri: DeltaUri = None,
    publish: Publish = True,
    partition_delta: PartitionDelta = False,
    delta_profile: DeltaProfileOption = DeltaProfile.standard,
    adf_tables: AdfTables = False,
    warehouse_wait: WarehouseWait = 60.0,
    engine: EngineOption = Engine.duckdb,
    full_refresh: FullRefresh = False,
    quiet: Quiet = False,
    log_format: LogFormat = LogStyle.plain,
) -> None:
    """Run `dbt build` over what has landed, then publish the marts as Delta tables."""
    options = BuildOptions(
        dbt_project=dbt_project,
        delta_uri=delta_uri,
        publish=publish,
        partition_delta=partition_delta,
        full_refresh=full_refresh,
        delta_profile=delta_profile,
        adf_tables=adf_tables,
        warehouse_wait=warehouse_wait,
        engine=engine,
    )
    _check_build_options(lake, options)
    _execute(
        "build",
        lake,
        quiet=quiet,
        log_format=log_format,
        steps=lambda run: _build_and_publish(run, options),
    )


def _check_build_options(lake: Path, options: BuildOptions) -> None:
    """Refuse, before anything runs, options the engine cannot take, and a Delta location the
    publication could not open."""
    conflict = options.spark_conflict()
    if conflict is not None:
        raise _fail(ExitCode.USAGE, conflict)
    if options.publish and options.engine is Engine.duckdb:
        _check_delta_location(lake, options.delta_uri)


def _check_delta_location(lake: Path, delta_uri: str | None) -> None:
    """Refuse, before anything runs, a Delta location the publication could not open."""
    try:
        resolve_delta_uri(lake, delta_uri)
    except UnusableDeltaLocation as error:
        raise _fail(ExitCode.USAGE, str(error)) from None


def _build_and_publish(run: Run, options: BuildOptions) -> None:
    result = build_step(
        run,
        options.dbt_project,
        full_refresh=options.full_refresh,
        warehouse_wait=options.warehouse_wait,
        engine=options.engine,
    )
    warned = result.warned
    if result.up_to_date:
        typer.echo("dbt build       up to date: nothing changed since the last build")
    else:
        warnings = f", warnings: {', '.join(warned)}" if warned else ""
        typer.echo(f"dbt build       passed{warnings}")
    if options.engine is Engine.spark:
        typer.echo(f"delta           written by Spark in {run.lake.default_delta_uri}")
        return
    if not options.publish:
        return
    publish_step(
        run,
        options.delta_uri,
        partition_delta=options.partition_delta,
        # a build that rebuilt everything (the privacy policy changed) re-merges every row
        full_refresh=options.full_refresh or result.full_refresh,
        profile=options.delta_profile,
        adf_tables=options.adf_tables,
    )
    assert run.report.publication is not None
    if run.report.publication.up_to_date:
        typer.echo("delta           up to date: nothing changed since the last publication")
    for table in run.report.publication.tables:
        version = "unchanged" if table.version is None else f"version {table.version}"
        typer.echo(
            f"delta           {table.table:<17} {version}: {table.upserted:,} upserted, "
            f"{table.deleted:,} deleted"
        )


@app.command("run")
def run_command(
    url: ServiceUrl = "",
    source: SourceKind = Source.azure,
    lake: LakeDir = Path("lake"),
    auth: Auth = None,
    lag: Lag = "15m",
    overlap: Overlap = "15m",
    start_time: StartTime = None,
    page_size: PageSize = None,
    batch_size: BatchSize = 5000,
    timeout: Timeout = 60.0,
    retries: Retries = 8,
    reconcile_every: ReconcileEvery = 1,
    reconcile_check: ReconcileCheck = True,
    dbt_project: DbtProject = None,
    delta_uri: DeltaUri = None,
    publish: Publish = True,
    partition_delta: PartitionDelta = False,
    delta_profile: DeltaProfileOption = DeltaProfile.standard,
    adf_tables: AdfTables = False,
    warehouse_wait: WarehouseWait = 60.0,
    engine: EngineOption = Engine.duckdb,
    full_refresh: FullRefresh = False,
    protect_at_landing: ProtectAtLanding = False,
    quiet: Quiet = False,
    log_format: LogFormat = LogStyle.plain,
) -> None:
    """Extract, then build and publish: the job to schedule."""
    settings = _source_settings(
        source,
        url=url,
        auth=auth,
        lag=lag,
        overlap=overlap,
        start_time=start_time,
        page_size=page_size,
        batch_size=batch_size,
        timeout=timeout,
        retries=retries,
        reconcile_every=reconcile_every,
        reconcile_check=reconcile_check,
    )
    options = BuildOptions(
        dbt_project=dbt_project,
        delta_uri=delta_uri,
        publish=publish,
        partition_delta=partition_delta,
        full_refresh=full_refresh,
        delta_profile=delta_profile,
        adf_tables=adf_tables,
        warehouse_wait=warehouse_wait,
        engine=engine,
    )

    def steps(run: Run) -> None:
        _extract_and_describe(
            run, settings, quiet=quiet, protect=protect_at_landing, dbt_project=dbt_project
        )
        _build_and_publish(run, options)

    _check_build_options(lake, options)
    _execute("run", lake, quiet=quiet, log_format=log_format, steps=steps)


@app.command("maintain")
def maintain_command(
    lake: LakeDir = Path("lake"),
    delta_uri: DeltaUri = None,
    retention_hours: Annotated[
        int, typer.Option(min=0, help="Vacuum files older than this (720 h = 30 days).")
    ] = 720,
    quiet: Quiet = False,
    log_format: LogFormat = LogStyle.plain,
) -> None:
    """Compact the Delta tables' small files and vacuum versions past the retention period."""

    def steps(run: Run) -> None:
        for table in maintain(resolve_delta_uri(run.lake.root, delta_uri), retention_hours):
            typer.echo(
                f"{table.table:<17} compacted {table.files_removed} file(s) into "
                f"{table.files_added}; vacuumed {len(table.vacuumed)} file(s)"
            )

    _check_delta_location(lake, delta_uri)
    _execute("maintain", lake, quiet=quiet, log_format=log_format, steps=steps)


@app.command("serve")
def serve_command(
    host: Annotated[
        str, typer.Option(help="Address to listen on: a loopback one unless --allow-remote.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port to listen on.")] = 8080,
    samples: Annotated[bool, typer.Option(help="Load the sample DICOM files first.")] = True,
    allow_remote: Annotated[
        bool,
        typer.Option(
            help="Listen on a non-loopback address: anyone who reaches it can upload, delete and "
            "inject faults, without a token."
        ),
    ] = False,
    log_format: LogFormat = LogStyle.plain,
) -> None:
    """Run the local DICOM service (change feed, STOW-RS, delete, bulk update) until Ctrl-C."""
    configure_logging(quiet=False, log_format=log_format)
    if not _is_loopback(host):
        if not allow_remote:
            raise _fail(
                ExitCode.USAGE,
                f"--host {host} is not a loopback address: the local service has no access "
                "control; pass --allow-remote to listen there anyway",
            )
        logging.getLogger("extractor.server").warning(
            "listening on %s: every client that reaches it can upload, delete and inject faults",
            host,
        )
    # Imported here: the scheduled commands need not load pydicom (a quarter of a second).
    from extractor.server import ServiceOptions, serve_forever

    try:
        serve_forever(host, port, ServiceOptions(), load_samples=samples)
    except OSError as error:
        raise _fail(ExitCode.USAGE, f"cannot listen on {host} port {port}: {error}") from None


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@app.command("demo")
def demo_command(
    lake: Annotated[Path, typer.Option("--lake", help="Where the demo's lake goes.")] = Path(
        "demo-lake"
    ),
) -> None:
    """Start the local DICOM service with sample data, run the job against it, show the tables."""
    from extractor.server import LocalDicomService, load_samples

    _fresh_demo_lake(Lake(lake))

    def steps(run: Run) -> None:
        with LocalDicomService(port=0) as service:
            loaded = load_samples(service.url)
            typer.echo(
                f"local DICOM service at {service.url}: uploaded {loaded.uploaded} sample "
                f"instances, deleted 1, bulk-updated study {loaded.updated_study_instance_uid}"
            )
            settings = AzureSettings(service_url=service.url, auth="none", lag=timedelta(0))
            _extract_and_describe(run, settings, quiet=False, protect=False, dbt_project=None)
        _build_and_publish(run, BuildOptions())
        typer.echo(show_tables(run.lake))

    try:
        _execute("demo", lake, quiet=False, log_format=LogStyle.plain, steps=steps)
    except typer.Exit as finished:
        if finished.exit_code == ExitCode.OK:  # after the run: its record is in the report
            typer.echo(f"report          {_write_report(lake).resolve()}")
        raise


def _write_report(lake: Path, output: Path | None = None) -> Path:
    # imported here: matplotlib's import costs every other command 0.4 s
    from extractor.report import write_report

    return write_report(lake, output)


@app.command("report")
def report_command(
    lake: LakeDir = Path("lake"),
    output: Annotated[
        Path | None,
        typer.Option(help="Also write the page here (it is always written to <lake>/report.html)."),
    ] = None,
) -> None:
    """Write the lake's report: one HTML page (no network needed) of the archive at a glance,
    the lake's freshness and its last runs, and data quality."""
    try:
        written = _write_report(lake, output)
    except FileNotFoundError as missing:
        raise _fail(ExitCode.USAGE, str(missing)) from None
    except duckdb.IOException as busy:
        raise _fail(ExitCode.WAREHOUSE_BUSY, f"the warehouse cannot be read now: {busy}") from None
    typer.echo(f"report          {written.resolve()}")
    if output is not None:
        typer.echo(f"                {output.resolve()}")


def _fresh_demo_lake(lake: Lake) -> None:
    """The demo starts from an empty lake, and only ever clears a lake it made itself."""
    if lake.root.exists() and any(lake.root.iterdir()):
        if not lake.demo_marker.exists():
            raise _fail(
                ExitCode.USAGE, f"{lake.root} holds files the demo did not write: choose --lake"
            )
        shutil.rmtree(lake.root)
    lake.root.mkdir(parents=True, exist_ok=True)
    lake.demo_marker.touch()


def show_tables(lake: Lake) -> str:
    """The marts' row counts and a look at the study table, for the demo."""
    # Not read-only: dbt-duckdb may still hold this file open in this process, and DuckDB
    # refuses a second connection to one file with another configuration.
    with duckdb.connect(str(lake.warehouse)) as connection:
        lines = [f"tables in {lake.warehouse} (and as Delta in {lake.default_delta_uri}):"]
        for name in (*TABLES, *DATA_QUALITY_MARTS):
            (count,) = connection.execute(f"select count(*) from main.{name}").fetchall()[0]
            lines.append(f"  {name:<22} {count:>6,} rows")
        study = connection.sql(
            "select patient_name, study_date, modalities_in_study, series_count, "
            "instance_count from main.study order by study_date nulls last"
        )
        lines.append(str(study))
    return "\n".join(lines)
