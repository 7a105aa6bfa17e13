"""The measured stages. Each runs in a child process of its own (``python -m bench stage``), so
its peak memory is its own: the child reports ``ru_maxrss`` of itself and of its children.
"""

from __future__ import annotations

import json
import logging
import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from extractor.lake import Lake

StageFunction = Callable[..., dict[str, Any]]


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _peak_rss_mb() -> float:
    """This process's own peak RSS (VmHWM), and that of its waited-for children if larger.

    Not ru_maxrss of RUSAGE_SELF: Linux carries the parent's high-water mark across fork and
    exec into it, so a child started by a big process would report the parent's peak.
    """
    own_kb = 0
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            own_kb = int(line.split()[1])
    if not own_kb:  # no /proc: fall back on getrusage (KiB on Linux)
        own_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss if _COUNT_CHILDREN else 0
    return round(max(own_kb, children_kb) / 1024, 1)


# Stages whose children are part of their own work (the generator's worker processes); the
# extraction service's child is the client, measured on its own.
_COUNT_CHILDREN = False


def run_in_child(name: str, arguments: dict[str, Any], out: Path) -> dict[str, Any]:
    """Run stage `name` in a fresh Python process; its result, with seconds and peak RSS."""
    command = [sys.executable, "-m", "bench", "stage", name, json.dumps(arguments), str(out)]
    # The bench package sits at the repository root, which need not be on the child's path.
    root = str(Path(__file__).resolve().parent.parent)
    path = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)
    subprocess.run(command, check=True, env={**os.environ, "PYTHONPATH": path})
    return dict(json.loads(out.read_text()))


def stage_main(name: str, arguments_json: str, out: str) -> None:
    """Entry point of a child: run one stage, write its result as JSON."""
    function = STAGES[name]
    arguments = json.loads(arguments_json)
    cpu = _cpu_seconds()
    started = time.perf_counter()
    details = function(**arguments)
    seconds = time.perf_counter() - started
    result = {
        "seconds": round(seconds, 3),
        "cpu_seconds": round(_cpu_seconds() - cpu, 3),
        "peak_rss_mb": _peak_rss_mb(),
        **details,
    }
    Path(out).write_text(json.dumps(result, indent=2, default=str))


# -- stages -----------------------------------------------------------------------------------


def generate(
    lake: str,
    instances: int,
    seed: int,
    update_share: float,
    delete_share: float,
    rows_per_file: int,
    workers: int,
) -> dict[str, Any]:
    from bench.generator import plan_feed, write_plan

    global _COUNT_CHILDREN
    _COUNT_CHILDREN = True
    plan = plan_feed(instances, seed=seed, update_share=update_share, delete_share=delete_share)
    summary = write_plan(plan, Path(lake), rows_per_file=rows_per_file, workers=workers)
    return {
        "rows": summary.rows,
        "files": summary.files,
        "studies": len(plan.studies),
        "series": sum(len(study.series) for study in plan.studies),
        "by_action": plan.counts,
        "metadata_mb": round(summary.metadata_bytes / 1e6, 1),
        "landed_mb": round(summary.landed_bytes / 1e6, 1),
    }


def changes(
    lake: str, changes: int, seed: int, update_share: float, delete_share: float
) -> dict[str, Any]:
    from bench.generator import plan_changes, write_plan

    plan = plan_changes(
        Path(lake), changes, seed=seed, update_share=update_share, delete_share=delete_share
    )
    summary = write_plan(plan, Path(lake), rows_per_file=max(1, plan.rows), workers=1)
    return {"rows": summary.rows, "files": summary.files, "by_action": plan.counts}


def floor(lake: str) -> dict[str, Any]:
    """Read every landed file and parse every metadata document once (json_valid)."""
    import duckdb

    files = Lake(Path(lake)).changefeed_glob
    with duckdb.connect() as connection:
        rows, documents, valid = connection.execute(
            "select count(*), count(metadata), count(*) filter (where json_valid(metadata))"
            " from read_parquet(?)",
            [files],
        ).fetchone() or (0, 0, 0)
        threads = connection.execute("select current_setting('threads')").fetchone()
    return {"rows": rows, "documents": documents, "valid": valid, "duckdb_threads": threads}


def reference(lake: str, out: str) -> dict[str, Any]:
    """The hand-written single pass (bench/reference.py): landed Parquet to the instance rows."""
    import duckdb

    from bench.reference import query

    with duckdb.connect() as connection:
        connection.execute(query(Lake(Path(lake)).changefeed_glob, Path(out)))
        counted = connection.execute("select count(*) from read_parquet(?)", [out]).fetchone()
    rows = counted[0] if counted else 0
    return {"rows": rows, "parquet_mb": round(Path(out).stat().st_size / 1e6, 1)}


def reference_check(lake: str, out: str) -> dict[str, Any]:
    """The reference's rows against the instance mart's: every column, both ways."""
    import duckdb

    from bench.reference import mismatches

    with duckdb.connect() as connection:
        counts = mismatches(connection, Lake(Path(lake)).warehouse, Path(out))
    if counts["only_in_reference"] or counts["only_in_mart"] or counts["columns_of_other_types"]:
        raise RuntimeError(f"the reference differs from the instance mart: {counts}")
    return counts


def build(lake: str, engine: str = "duckdb") -> dict[str, Any]:
    """`dbt build` on one engine; Spark's runs in a dbt process of its own (counted here)."""
    from extractor.build import Engine
    from extractor.build import build as dbt_build

    if engine == Engine.spark:
        global _COUNT_CHILDREN
        _COUNT_CHILDREN = True
    result = dbt_build(Path(lake), engine=Engine(engine))
    if not result.success:
        raise RuntimeError(f"dbt build failed: {result.failed} {result.messages} {result.error}")
    timings: dict[str, float] = {}
    run_results = Lake(Path(lake)).dbt_target / "run_results.json"
    if run_results.is_file() and not result.up_to_date:
        for node in json.loads(run_results.read_text()).get("results", []):
            timings[node["unique_id"]] = round(float(node.get("execution_time") or 0), 3)
    slowest = dict(sorted(timings.items(), key=lambda item: -item[1])[:8])
    total = sum(timings.values())
    return {
        "up_to_date": result.up_to_date,
        "nodes": len(timings),
        "nodes_seconds": round(total, 3),
        "slowest_nodes": slowest,
        # each model's share of the nodes' time (tests and seeds summed apart)
        "shares": _shares(timings, total),
        "warned": result.warned,
        "engine": engine,
    }


def _shares(timings: dict[str, float], total: float) -> dict[str, float]:
    grouped: dict[str, float] = {}
    for unique_id, seconds in timings.items():
        kind, _, name = unique_id.split(".", 2)
        key = name if kind == "model" else f"{kind}s"
        grouped[key] = grouped.get(key, 0.0) + seconds
    ranked = sorted(grouped.items(), key=lambda item: -item[1])
    return {key: round(seconds / total, 3) for key, seconds in ranked} if total else {}


def publish(lake: str, adf_tables: bool = False) -> dict[str, Any]:
    from extractor.delta import publish as delta_publish

    marks: list[tuple[str, float]] = []

    class Marker(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.msg.startswith("published %s"):
                marks.append((str(record.args[0]), time.perf_counter()))  # type: ignore[index]

    logger = logging.getLogger("extractor.delta.publish")
    logger.setLevel(logging.INFO)
    logger.addHandler(Marker())
    started = time.perf_counter()
    result = delta_publish(Path(lake), adf_tables=adf_tables)
    per_table: dict[str, float] = {}
    previous = started
    for table, moment in marks:
        per_table[table] = round(moment - previous, 3)
        previous = moment
    return {
        "tables": {
            table.table: {
                "version": table.version,
                "upserted": table.upserted,
                "deleted": table.deleted,
                "seconds": per_table.get(table.table),
            }
            for table in result.tables
        },
        "delta_mb": round(
            sum(
                f.stat().st_size
                for f in Path(Lake(Path(lake)).default_delta_uri).rglob("*")
                if f.is_file()
            )
            / 1e6,
            1,
        ),
    }


def extract_service(
    lake: str,
    instances: int,
    seed: int,
    update_share: float,
    delete_share: float,
    page_size: int,
    work: str,
) -> dict[str, Any]:
    """Load a local DICOM service with a generated feed and extract it from a child process.

    The service's time per page is its own log line's (request received to last byte sent); its
    work inside that (read_feed, entries, JSON) is timed too. The client's `extract()` wall
    time minus the service's handling time is what the client adds."""
    from bench.generator import feed_store, plan_feed
    from extractor.server import LocalDicomService, routes
    from extractor.server.store import DicomStore

    plan = plan_feed(instances, seed=seed, update_share=update_share, delete_share=delete_share)
    store = DicomStore()
    loading = time.perf_counter()
    entries = feed_store(plan, store)
    load_seconds = time.perf_counter() - loading

    handled: list[float] = []  # ms per change-feed request, from the service's own log line

    class Capture(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            method, path, status, elapsed = record.args  # type: ignore[misc]
            if method == "GET" and str(path).startswith("/v2/changefeed?") and status == 200:
                handled.append(float(elapsed))

    logger = logging.getLogger("extractor.server")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    logger.addHandler(Capture())

    # The service's own work for a page, timed while it serves: reading the feed (state and
    # current metadata of each row), shaping the entries and serialising the page.
    own = {"seconds": 0.0}

    def timed(function: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                own["seconds"] += time.perf_counter() - started

        return wrapper

    store.read_feed = timed(store.read_feed)  # type: ignore[method-assign]
    routes.feed_entry = timed(routes.feed_entry)  # type: ignore[assignment]
    routes.json_bytes = timed(routes.json_bytes)  # type: ignore[assignment]
    with LocalDicomService(store=store) as service:
        cpu = _cpu_seconds()
        client = run_in_child(
            "extract_client",
            {"url": service.url, "lake": lake, "page_size": page_size},
            Path(work) / "extract_client.json",
        )
        server_cpu = _cpu_seconds() - cpu

    pages = len(handled)
    handler = sum(handled) / 1000
    added = client["extract_seconds"] - handler
    return {
        "entries": entries,
        "store_load_seconds": round(load_seconds, 3),
        "pages": pages,
        "page_size": page_size,
        "service_handler_seconds": round(handler, 3),
        "service_handler_ms_per_page": round(1000 * handler / max(1, pages), 2),
        "service_work_seconds": round(own["seconds"], 3),
        "service_process_cpu_seconds": round(server_cpu, 3),
        "client": client,
        "client_added_seconds": round(added, 3),
        "client_added_ms_per_page": round(1000 * added / max(1, pages), 2),
        "client_overhead_ratio": round(added / handler, 3) if handler else None,
        # CPU against CPU: robust when other work shares the cores.
        "client_cpu_ratio": (
            round(client["extract_cpu_seconds"] / server_cpu, 3) if server_cpu else None
        ),
        "entries_per_second": round(client["entries_read"] / client["extract_seconds"], 1),
    }


def extract_client(url: str, lake: str, page_size: int) -> dict[str, Any]:
    """`extract()` with `http_page_fetcher`, as `dicom-lake extract` runs it, timed by part."""
    import extractor.landing.zone as landing_zone
    import extractor.sources.azure.feed as feed
    from extractor.landing import LandingZone
    from extractor.sources import make_session
    from extractor.sources.azure import AzureSettings, extract

    spent = {"fetch": 0.0, "parse": 0.0, "land": 0.0}

    def timed(key: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                spent[key] += time.perf_counter() - started

        return wrapper

    feed.parse_page = timed("parse", feed.parse_page)  # type: ignore[assignment]
    landing_zone.write_batch = timed("land", landing_zone.write_batch)  # type: ignore[assignment]
    settings = AzureSettings(
        service_url=url,
        auth="none",
        lag=timedelta(0),
        overlap=timedelta(0),
        page_size=page_size,
    )
    session = make_session(None, settings.max_retries)
    fetch = timed("fetch", feed.http_page_fetcher(session, url, page_size, settings.timeout))
    cpu = _cpu_seconds()
    started = time.perf_counter()
    summary = extract(settings, fetch, LandingZone(Path(lake)))
    seconds = time.perf_counter() - started
    return {
        "extract_seconds": round(seconds, 3),
        "extract_cpu_seconds": round(_cpu_seconds() - cpu, 3),
        "entries_read": summary.entries_read,
        "landed": summary.landed,
        "pages": summary.pages,
        "files": len(summary.files),
        "fetch_seconds": round(spent["fetch"], 3),
        "parse_seconds": round(spent["parse"], 3),
        "land_seconds": round(spent["land"], 3),
    }


STAGES: dict[str, StageFunction] = {
    "generate": generate,
    "changes": changes,
    "floor": floor,
    "reference": reference,
    "reference_check": reference_check,
    "build": build,
    "publish": publish,
    "extract_service": extract_service,
    "extract_client": extract_client,
}
