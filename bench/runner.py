"""The benchmark: generate a lake, then time each stage in a child process and compare it with
the floor (DuckDB reading the landed Parquet and parsing every metadata document once).

Stages, in order: generate the base feed; the floor; the reference (bench/reference.py: the
`instance` mart by one hand-written query); the full ``dbt build`` and the first Delta
publication, then the reference checked against the mart; generate ``changes`` more feed rows
(creates, updates, deletes); the incremental ``dbt build`` and publication; a build and
publication with nothing new; with ``compare_base``, the same changes on a smaller base (the
incremental cost should follow the change, not the archive); extraction of a generated feed from
the local DICOM service.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.generator import format_size
from bench.stages import run_in_child
from extractor.lake import Lake

RESULTS_DIR = Path(__file__).resolve().parent / "results"
GB = 1024  # MB


@dataclass
class Options:
    instances: int
    seed: int = 1
    update_share: float = 0.05
    delete_share: float = 0.02
    changes: int = 10_000
    change_update_share: float = 0.25
    change_delete_share: float = 0.15
    extract_instances: int = 20_000
    page_size: int = 200
    rows_per_file: int = 5_000
    workers: int = 2
    work: Path | None = None
    keep: bool = False
    out: Path | None = None
    skip_extract: bool = False
    adf_tables: bool = False
    spark: bool = False
    compare_base: int | None = None


def machine() -> dict[str, Any]:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        memory_kb = next(
            int(line.split()[1])
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        )
    except (OSError, StopIteration):
        memory_kb = 0
    import duckdb

    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "memory_gb": round(memory_kb / 1024 / 1024, 1),
        "python": platform.python_version(),
        "duckdb": duckdb.__version__,
        "platform": platform.platform(),
    }


def run(options: Options) -> dict[str, Any]:
    size = format_size(options.instances)
    work = options.work or Path(tempfile.gettempdir()) / f"dicom-lake-bench-{size}"
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    lake = work / "lake"
    results: dict[str, Any] = {
        "size": size,
        "instances": options.instances,
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "options": {k: str(v) if isinstance(v, Path) else v for k, v in vars(options).items()},
    }
    stages: dict[str, dict[str, Any]] = {}

    def stage(key: str, name: str, **arguments: Any) -> dict[str, Any]:
        print(f"[bench {size}] {key} ...", flush=True)
        stages[key] = run_in_child(name, arguments, work / f"{key}.json")
        print(
            f"[bench {size}] {key}: {stages[key]['seconds']:.1f} s,"
            f" peak {stages[key]['peak_rss_mb']:.0f} MB",
            flush=True,
        )
        return stages[key]

    try:
        generate_feed(stage, "", lake, options.instances, options)
        stage("floor", "floor", lake=str(lake))
        reference = str(work / "reference.parquet")
        stage("reference", "reference", lake=str(lake), out=reference)
        spark_lake = work / "spark-lake"
        if options.spark:  # the same feed, before the changes land
            shutil.copytree(Lake(lake).landing, Lake(spark_lake).landing)
        stage("full_build", "build", lake=str(lake))
        stage("full_publish", "publish", lake=str(lake), adf_tables=options.adf_tables)
        stage("reference_check", "reference_check", lake=str(lake), out=reference)
        incremental_run(stage, "", lake, options)
        stage("nothing_new_build", "build", lake=str(lake))
        stage("nothing_new_publish", "publish", lake=str(lake), adf_tables=options.adf_tables)
        if options.compare_base:
            small = work / "small-lake"
            generate_feed(stage, "small_", small, options.compare_base, options)
            stage("small_full_build", "build", lake=str(small))
            stage("small_full_publish", "publish", lake=str(small), adf_tables=options.adf_tables)
            incremental_run(stage, "small_", small, options)
            shutil.rmtree(small, ignore_errors=True)
        if options.spark:
            stage("spark_full_build", "build", lake=str(spark_lake), engine="spark")
            landed = {path.name for path in Lake(spark_lake).changefeed.glob("*.parquet")}
            for path in Lake(lake).changefeed.glob("*.parquet"):
                if path.name not in landed:
                    shutil.copy(path, Lake(spark_lake).changefeed / path.name)
            stage("spark_incremental_build", "build", lake=str(spark_lake), engine="spark")
        if not options.skip_extract:
            extract_lake = work / "extract-lake"
            stage(
                "extract",
                "extract_service",
                lake=str(extract_lake),
                instances=min(options.extract_instances, options.instances),
                seed=options.seed + 2,
                update_share=options.update_share,
                delete_share=options.delete_share,
                page_size=options.page_size,
                work=str(work),
            )
    finally:
        results["stages"] = stages
        if not options.keep:
            shutil.rmtree(work, ignore_errors=True)
    results["summary"] = summarise(stages)
    out = options.out or RESULTS_DIR / f"{size}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(table(results))
    print(f"written: {out}")
    return results


def generate_feed(stage: Any, prefix: str, lake: Path, instances: int, options: Options) -> None:
    """A generated base feed of `instances`, landed into `lake`."""
    stage(
        f"{prefix}generate",
        "generate",
        lake=str(lake),
        instances=instances,
        seed=options.seed,
        update_share=options.update_share,
        delete_share=options.delete_share,
        rows_per_file=options.rows_per_file,
        workers=options.workers,
    )


def incremental_run(stage: Any, prefix: str, lake: Path, options: Options) -> None:
    """The changes landed on a built lake, then its incremental build and publication."""
    stage(
        f"{prefix}changes",
        "changes",
        lake=str(lake),
        changes=options.changes,
        seed=options.seed + 1,
        update_share=options.change_update_share,
        delete_share=options.change_delete_share,
    )
    stage(f"{prefix}incremental_build", "build", lake=str(lake))
    stage(f"{prefix}incremental_publish", "publish", lake=str(lake), adf_tables=options.adf_tables)


def _run_seconds(stages: dict[str, dict[str, Any]], prefix: str) -> float:
    """A build and its publication, e.g. prefix "incremental_"."""
    return float(stages[f"{prefix}build"]["seconds"] + stages[f"{prefix}publish"]["seconds"])


def summarise(stages: dict[str, dict[str, Any]]) -> dict[str, Any]:
    floor = stages["floor"]["seconds"]
    reference = stages["reference"]["seconds"]
    full = _run_seconds(stages, "full_")
    full_build = stages["full_build"]["seconds"]
    incremental = _run_seconds(stages, "incremental_")
    nothing_new = _run_seconds(stages, "nothing_new_")
    peak = max(stages["full_build"]["peak_rss_mb"], stages["full_publish"]["peak_rss_mb"])
    summary: dict[str, Any] = {
        "floor_seconds": floor,
        "reference_seconds": reference,
        "reference_ratio_to_floor": round(reference / floor, 2),
        "full_build_and_publish_seconds": round(full, 3),
        "full_ratio_to_floor": round(full / floor, 2),
        "full_ratio_to_reference": round(full / reference, 2),
        "full_peak_rss_mb": peak,
        "incremental_seconds": round(incremental, 3),
        "incremental_share_of_full_build": round(incremental / full_build, 4),
        "incremental_share_of_full_build_and_publish": round(incremental / full, 4),
        "nothing_new_seconds": round(nothing_new, 3),
    }
    targets: dict[str, dict[str, Any]] = {
        "full build + publication within 2x the reference": {
            "value": f"{summary['full_ratio_to_reference']}x",
            "met": full <= 2 * reference,
        },
        "peak memory of build and publication under 4 GB": {
            "value": f"{peak / GB:.2f} GB",
            "met": peak < 4 * GB,
        },
        "incremental run (build + publication) under 5% of the full build": {
            "value": f"{100 * incremental / full_build:.1f}%",
            "met": incremental < 0.05 * full_build,
        },
        "a run with nothing new (build + publication) under 1 s": {
            "value": f"{nothing_new:.2f} s",
            "met": nothing_new < 1,
        },
    }
    if "small_incremental_build" in stages:
        small = _run_seconds(stages, "small_incremental_")
        summary["small_base_incremental_seconds"] = round(small, 3)
        summary["incremental_ratio_to_small_base"] = round(incremental / small, 2)
        targets["the same changes on this base and on the small one within 1.3x"] = {
            "value": f"{incremental / small:.2f}x",
            "met": incremental / small <= 1.3,
        }
    extract = stages.get("extract")
    if extract:
        ratio = extract["client_overhead_ratio"]
        targets["extraction: the client adds under 10% to the service's own time"] = {
            "value": f"{100 * ratio:.0f}%" if ratio is not None else None,
            "met": ratio is not None and ratio < 0.10,
        }
    summary["targets"] = targets
    return summary


def _row(cells: list[str], widths: list[int]) -> str:
    return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"


def table(results: dict[str, Any]) -> str:
    """The results as a Markdown table (the README's)."""
    stages = results["stages"]
    floor = stages["floor"]["seconds"]
    reference = stages["reference"]["seconds"]
    header = ["stage", "rows", "time (s)", "x floor", "x reference", "peak RSS (MB)", "notes"]
    lines: list[list[str]] = []

    def add(key: str, label: str, rows: Any, notes: str = "", timed: bool = True) -> None:
        if key not in stages:
            return
        seconds = stages[key]["seconds"]
        lines.append(
            [
                label,
                f"{rows:,}" if isinstance(rows, int) else str(rows),
                f"{seconds:.1f}",
                f"{seconds / floor:.1f}" if timed else "",
                f"{seconds / reference:.2f}" if timed else "",
                f"{stages[key]['peak_rss_mb']:,.0f}",
                notes,
            ]
        )

    generate = stages["generate"]
    add(
        "generate",
        "generate the feed (not timed against the floor)",
        generate["rows"],
        f"{generate['studies']} studies, {generate['series']} series, "
        f"{generate['metadata_mb']} MB JSON in {generate['landed_mb']} MB Parquet",
        timed=False,
    )
    add("floor", "**floor**: read Parquet + parse each document once", stages["floor"]["rows"])
    check = stages.get("reference_check", {})
    add(
        "reference",
        "**reference**: one hand-written query to the instance rows",
        stages["reference"]["rows"],
        f"zstd Parquet {stages['reference']['parquet_mb']} MB; equal to the instance mart"
        if check
        else "not checked",
    )
    add(
        "full_build",
        "full `dbt build`",
        generate["rows"],
        _slowest(stages["full_build"]),
    )
    add("full_publish", "Delta publication (create)", "4 tables", _tables(stages["full_publish"]))
    if "changes" in stages:
        changes = stages["changes"]["by_action"]
        mix = ", ".join(f"{count} {action.lower()}s" for action, count in changes.items())
        add("incremental_build", "incremental `dbt build`", stages["changes"]["rows"], mix)
        add(
            "incremental_publish",
            "incremental Delta publication (MERGE)",
            "4 tables",
            _tables(stages["incremental_publish"]),
        )
    add("nothing_new_build", "`dbt build` with nothing new", 0, "up to date: dbt not run")
    add("nothing_new_publish", "Delta publication with nothing new", "4 tables")
    if "small_incremental_build" in stages:
        base = stages["small_generate"]["rows"]
        add("small_full_build", f"base of {base:,} rows: full `dbt build`", base)
        add(
            "small_incremental_build",
            f"base of {base:,} rows: incremental `dbt build`",
            stages["small_changes"]["rows"],
            "the same changes on the small base",
        )
        add(
            "small_incremental_publish",
            f"base of {base:,} rows: incremental Delta publication",
            "4 tables",
        )
    if "spark_full_build" in stages:
        add("spark_full_build", "Spark: full `dbt build`", generate["rows"], _slowest_spark(stages))
        if "spark_incremental_build" in stages:
            add(
                "spark_incremental_build",
                "Spark: incremental `dbt build`",
                stages["changes"]["rows"],
                _slowest(stages["spark_incremental_build"]),
            )
    out = [_row(header, [len(h) for h in header])]
    widths = [max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(header)]
    out = [_row(header, widths), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += [_row(line, widths) for line in lines]
    extract = stages.get("extract")
    if extract:
        client = extract["client"]
        out.append("")
        out.append(
            f"Extraction from the local service: {client['entries_read']:,} entries in"
            f" {extract['pages']} pages of {extract['page_size']},"
            f" {client['extract_seconds']:.1f} s ({extract['entries_per_second']:,.0f} entries/s;"
            f" peak RSS client {client['peak_rss_mb']:,.0f} MB,"
            f" service {extract['peak_rss_mb']:,.0f} MB)."
        )
        pages = max(1, extract["pages"])
        out.append(
            f"Per page: the service handles a request in {extract['service_handler_ms_per_page']}"
            f" ms (of which read_feed + entries + JSON"
            f" {1000 * extract['service_work_seconds'] / pages:.1f} ms); the client adds"
            f" {extract['client_added_ms_per_page']} ms wall clock"
            f" ({100 * (extract['client_overhead_ratio'] or 0):.0f}%) and uses"
            f" {1000 * client['extract_cpu_seconds'] / pages:.1f} ms of CPU"
            f" ({100 * (extract['client_cpu_ratio'] or 0):.0f}% of the service's CPU; page parsing"
            f" {1000 * client['parse_seconds'] / pages:.1f} ms,"
            f" landing {1000 * client['land_seconds'] / pages:.1f} ms)."
        )
    shares = stages["full_build"].get("shares", {})
    out.append("")
    out.append(
        "Share of the full build's node time: "
        + ", ".join(f"{name} {100 * share:.0f}%" for name, share in shares.items() if share >= 0.01)
        + "."
    )
    out.append("")
    for name, target in results["summary"]["targets"].items():
        out.append(f"- {name}: {target['value']} ({'met' if target['met'] else 'NOT met'})")
    return "\n".join(out)


def _slowest_spark(stages: dict[str, Any]) -> str:
    """Spark writes the marts as Delta itself: its full build stands for DuckDB's build and
    publication together."""
    duckdb = stages["full_build"]["seconds"] + stages["full_publish"]["seconds"]
    ratio = stages["spark_full_build"]["seconds"] / duckdb
    return f"{ratio:.1f}x DuckDB's build + publication; {_slowest(stages['spark_full_build'])}"


def _slowest(stage: dict[str, Any]) -> str:
    nodes = stage.get("slowest_nodes", {})
    top = list(nodes.items())[:3]
    return "slowest: " + ", ".join(f"{k.split('.')[-1]} {v:.1f}s" for k, v in top)


def _tables(stage: dict[str, Any]) -> str:
    tables = stage.get("tables", {})
    return ", ".join(f"{name} {info['seconds'] or 0:.1f}s" for name, info in tables.items())
