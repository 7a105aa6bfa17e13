"""The `dicom-lake` command line: the one place that reads flags and environment variables."""

from __future__ import annotations

import inspect
import logging
import shutil
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from enum import IntEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from extractor.auth import azure_auth
from extractor.changefeed import http_page_fetcher
from extractor.extract import ExtractSummary, extract
from extractor.http import AuthFailure, SourceError, SourceUnreachable, make_session
from extractor.progress import extract_progress
from extractor.settings import ExtractSettings, default_auth, parse_duration, public_url


class ExitCode(IntEnum):
    OK = 0
    FAILED = 1
    USAGE = 2
    SOURCE_UNREACHABLE = 3
    AUTH_FAILURE = 4
    SOURCE_ERROR = 5
    BUILD_FAILURE = 6
    PUBLISH_FAILURE = 7


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
PageSize = Annotated[int, typer.Option(min=1, max=200, help="Entries per request.")]
BatchSize = Annotated[int, typer.Option(min=1, help="Entries per landed Parquet file.")]
Timeout = Annotated[float, typer.Option(min=0.1, help="Seconds to wait for one page.")]
Retries = Annotated[int, typer.Option(min=0, help="Retries of a failing request.")]
DeltaUri = Annotated[
    str | None,
    typer.Option(
        envvar="DICOM_LAKE_DELTA_URI",
        help="Where the Delta tables go: a path or abfss://, az:// URI. Default: <lake>/delta.",
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
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress line; warnings only.")]


def _configure_logging(quiet: bool) -> None:
    logging.basicConfig(
        level=logging.WARNING if quiet else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
        force=True,
    )
    # azure-identity and urllib3 say too much at INFO.
    for noisy in ("urllib3", "azure", "msal"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _fail(code: ExitCode, message: str) -> typer.Exit:
    typer.secho(f"error: {message}", err=True, fg=typer.colors.RED)
    return typer.Exit(int(code))


@app.command("extract")
def extract_command(
    url: ServiceUrl = "",
    lake: LakeDir = Path("lake"),
    auth: Auth = None,
    lag: Lag = "15m",
    overlap: Overlap = "15m",
    start_time: StartTime = None,
    page_size: PageSize = 200,
    batch_size: BatchSize = 5000,
    timeout: Timeout = 60.0,
    retries: Retries = 8,
    quiet: Quiet = False,
) -> None:
    """Read the change feed and land what is new as Parquet under <lake>/landing/changefeed."""
    _configure_logging(quiet)
    if not url:
        raise _fail(ExitCode.USAGE, "no service URL: pass --url or set DICOM_SERVICE_URL")
    if start_time is not None and start_time.tzinfo is None:
        start_time = start_time.replace(tzinfo=UTC)
    try:
        settings = ExtractSettings(
            service_url=url,
            lake_dir=lake,
            auth=auth or default_auth(url),
            lag=parse_duration(lag),
            overlap=parse_duration(overlap),
            start_time=start_time,
            page_size=page_size,
            batch_size=batch_size,
            timeout=timeout,
            max_retries=retries,
        )
    except ValueError as error:
        raise _fail(ExitCode.USAGE, str(error)) from None
    summary = _extract(settings, show_progress=not quiet)
    typer.echo(describe(summary, settings))


def _extract(settings: ExtractSettings, show_progress: bool) -> ExtractSummary:
    session = make_session(azure_auth() if settings.auth == "azure" else None, settings.max_retries)
    fetch = http_page_fetcher(session, settings.service_url, settings.page_size, settings.timeout)
    try:
        with extract_progress(enabled=show_progress) as on_page:
            return extract(settings, fetch, on_page=on_page)
    except SourceUnreachable as error:
        raise _fail(ExitCode.SOURCE_UNREACHABLE, str(error)) from None
    except AuthFailure as error:
        raise _fail(ExitCode.AUTH_FAILURE, str(error)) from None
    except SourceError as error:
        raise _fail(ExitCode.SOURCE_ERROR, str(error)) from None
    except OSError as error:
        raise _fail(ExitCode.FAILED, f"cannot write the landing zone: {error}") from None
    finally:
        session.close()


def describe(summary: ExtractSummary, settings: ExtractSettings) -> str:
    """The closing summary of an extract."""
    before, after = summary.watermark_before, summary.watermark_after
    start = "the beginning" if summary.window_start.year == 1 else f"{summary.window_start:%F %T}"
    lines = [
        f"source          {public_url(settings.service_url)}",
        f"window          {start} to {summary.window_end:%F %T} UTC",
        f"pages read      {summary.pages:,} ({summary.entries_read:,} entries, "
        f"{summary.already_landed:,} already landed)",
    ]
    if summary.landed:
        actions = ", ".join(f"{action} {n:,}" for action, n in sorted(summary.by_action.items()))
        files = len(summary.files)
        lines.append(f"landed          {summary.landed:,} entries ({actions}) in {files} file(s)")
    else:
        lines.append("landed          nothing new: no file written")
    lines.append(f"watermark       {_mark(before)} -> {_mark(after)}")
    return "\n".join(lines)


def _mark(watermark: Any) -> str:
    if watermark is None:
        return "none"
    return f"sequence {watermark.sequence:,} at {watermark.timestamp:%F %T.%f} UTC"


@app.command("build")
def build_command(
    lake: LakeDir = Path("lake"),
    delta_uri: DeltaUri = None,
    publish: Publish = True,
    partition_delta: PartitionDelta = False,
    quiet: Quiet = False,
) -> None:
    """Run `dbt build` over what has landed, then publish the marts as Delta tables."""
    _configure_logging(quiet)
    from extractor.build import build

    try:
        result = build(lake)
    except (RuntimeError, FileNotFoundError) as error:
        raise _fail(ExitCode.BUILD_FAILURE, str(error)) from None
    if not result.success:
        raise _fail(ExitCode.BUILD_FAILURE, describe_build_failure(result))
    warned = (
        f", {len(result.warned)} warning(s): " + ", ".join(result.warned) if result.warned else ""
    )
    typer.echo(f"dbt build       passed{warned}")
    if publish:
        _publish(lake, delta_uri, partition_delta)


def describe_build_failure(result: Any) -> str:
    lines = [f"dbt build failed: {result.error or ''}".rstrip(": ")]
    for node in result.failed:
        lines.append(f"  {node}: {result.messages.get(node, '')}".rstrip(": "))
    return "\n".join(lines)


def _publish(lake: Path, delta_uri: str | None, partition_delta: bool) -> None:
    from extractor.publish import publish

    try:
        result = publish(lake, delta_uri, partition_by_partition_name=partition_delta)
    except Exception as error:  # any storage failure: each table stays at its old or new version
        raise _fail(ExitCode.PUBLISH_FAILURE, f"Delta publication failed: {error}") from None
    for table in result.tables:
        version = "unchanged" if table.version is None else f"version {table.version}"
        typer.echo(
            f"delta           {table.table:<17} {version}: {table.upserted:,} upserted, "
            f"{table.deleted:,} deleted"
        )


def _options_of(*commands: Callable[..., None]) -> Callable[[Callable[..., None]], Any]:
    """Give a command the options of other commands, each declared once where it belongs."""

    def give(command: Callable[..., None]) -> Callable[..., None]:
        parameters: dict[str, inspect.Parameter] = {}
        annotations: dict[str, Any] = {}
        for other in commands:
            parameters.update(inspect.signature(other).parameters)
            annotations.update(other.__annotations__)
        command.__signature__ = inspect.Signature(list(parameters.values()))  # type: ignore[attr-defined]
        command.__annotations__ = annotations
        return command

    return give


def _call_with_its_options(command: Callable[..., None], options: dict[str, Any]) -> None:
    command(**{name: options[name] for name in inspect.signature(command).parameters})


@app.command("run", help="Extract, then build: the job to schedule. Takes both commands' options.")
@_options_of(extract_command, build_command)
def run_command(**options: Any) -> None:
    _call_with_its_options(extract_command, options)
    _call_with_its_options(build_command, options)


@app.command("maintain")
def maintain_command(
    lake: LakeDir = Path("lake"),
    delta_uri: DeltaUri = None,
    retention_hours: Annotated[
        int, typer.Option(min=0, help="Vacuum files older than this (720 h = 30 days).")
    ] = 720,
    quiet: Quiet = False,
) -> None:
    """Compact the Delta tables' small files and vacuum versions past the retention period."""
    _configure_logging(quiet)
    from extractor.maintain import maintain
    from extractor.publish import resolve_delta_uri

    for report in maintain(resolve_delta_uri(lake, delta_uri), retention_hours):
        typer.echo(
            f"{report.table:<17} compacted {report.files_removed} file(s) into "
            f"{report.files_added}; vacuumed {len(report.vacuumed)} file(s)"
        )


@app.command("serve")
def serve_command(
    host: Annotated[str, typer.Option(help="Address to listen on (loopback only).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8080,
    samples: Annotated[bool, typer.Option(help="Load the sample DICOM files first.")] = True,
) -> None:
    """Run the local DICOM service (change feed, STOW-RS, delete, bulk update) until Ctrl-C."""
    _configure_logging(quiet=False)
    from extractor.server import ServiceOptions, serve_forever

    serve_forever(host, port, ServiceOptions(), load_samples=samples)


DEMO_MARKER = ".dicom-lake-demo"


@app.command("demo")
def demo_command(
    lake: Annotated[Path, typer.Option("--lake", help="Where the demo's lake goes.")] = Path(
        "demo-lake"
    ),
) -> None:
    """Start the local DICOM service with sample data, run the job against it, show the tables."""
    _configure_logging(quiet=False)
    from extractor.samples import load_samples
    from extractor.server import LocalDicomService

    _fresh_demo_lake(lake)
    with LocalDicomService(port=0) as service:
        loaded = load_samples(service.url)
        typer.echo(f"local DICOM service at {service.url}: {loaded}")
        settings = ExtractSettings(
            service_url=service.url, lake_dir=lake, auth="none", lag=timedelta(0)
        )
        typer.echo(describe(_extract(settings, show_progress=True), settings))
    build_command(lake=lake, quiet=False)  # and publish to <lake>/delta
    typer.echo(show_tables(lake))


def _fresh_demo_lake(lake: Path) -> None:
    """The demo starts from an empty lake, and only ever clears a lake it made itself."""
    if lake.exists() and any(lake.iterdir()):
        if not (lake / DEMO_MARKER).exists():
            raise _fail(ExitCode.USAGE, f"{lake} holds files the demo did not write: choose --lake")
        shutil.rmtree(lake)
    lake.mkdir(parents=True, exist_ok=True)
    (lake / DEMO_MARKER).touch()


def show_tables(lake: Path) -> str:
    """Each table of the warehouse with its row count, and the study table's first rows."""
    import duckdb

    # Not read-only: dbt-duckdb may still hold this file open in this process, and DuckDB
    # refuses a second connection to one file with another configuration.
    with duckdb.connect(str(lake / "warehouse.duckdb")) as connection:
        names = [
            name
            for (name,) in connection.execute(
                "select table_name from information_schema.tables "
                "where table_schema = 'main' order by table_name"
            ).fetchall()
        ]
        lines = ["tables in " + str(lake / "warehouse.duckdb")]
        for name in names:
            (count,) = connection.execute(f'select count(*) from "{name}"').fetchall()[0]
            lines.append(f"  {name:<32} {count:>8,} rows")
        if "study" in names:
            lines.append(str(connection.sql("select * from study limit 10")))
    return "\n".join(lines)
