"""``python -m bench``: the benchmark, the feed generator, and a loaded local DICOM service.

python -m bench run [--size 20k]            benchmark; table printed, bench/results/<size>.json
python -m bench generate --size 100k --lake DIR     land a generated feed
python -m bench generate --changes 10000 --lake DIR add changes on top of a landed feed
python -m bench serve --size 20k --port 8080        a local DICOM service holding the feed
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bench.generator import Plan, parse_size, plan_feed

DEFAULT_SIZE = "20k"
COMPARE_BASE = 100_000
SPARK_MAX_DEFAULT = 100_000


def _shares(parser: argparse.ArgumentParser, updates: str = "0.05", deletes: str = "0.02") -> None:
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--update-share",
        type=float,
        help=f"share of instances bulk-updated (default {updates})",
    )
    parser.add_argument("--delete-share", type=float, help=f"share deleted (default {deletes})")


def _plan_feed(options: argparse.Namespace) -> Plan:
    """A generated feed of ``--size`` instances with the options' seed and shares."""
    return plan_feed(
        parse_size(options.size),
        seed=options.seed,
        update_share=options.update_share,
        delete_share=options.delete_share,
    )


def _spark_wanted(asked: bool | None, instances: int) -> bool:
    """--spark / --no-spark, or by default whether the Spark engine is installed here, up to
    SPARK_MAX_DEFAULT instances (local Spark takes hours at 1M)."""
    if asked is not None:
        return asked
    if instances > SPARK_MAX_DEFAULT:
        print(f"[bench] no Spark stage above {SPARK_MAX_DEFAULT:,} instances (--spark)")
        return False
    from extractor.build import SparkUnavailable
    from extractor.build.spark import delta_jars

    try:
        delta_jars()
    except SparkUnavailable as missing:
        print(f"[bench] no Spark stage: {missing}", flush=True)
        return False
    return True


def _compare_base(asked: str | None, instances: int) -> int | None:
    """--compare-base, or 100k under a larger run."""
    if asked is not None:
        return parse_size(asked) or None
    return COMPARE_BASE if instances > COMPARE_BASE else None


def main(argv: list[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else argv
    if arguments[:1] == ["stage"]:  # internal: one measured stage in a child process
        from bench.stages import stage_main

        stage_main(*arguments[1:4])
        return 0

    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="run the benchmark")
    run.add_argument("--size", default=DEFAULT_SIZE, help="instances: 20k, 100k, 1M ...")
    _shares(run)
    run.add_argument("--changes", type=int, default=10_000, help="rows of the incremental run")
    run.add_argument(
        "--extract-size",
        default="20k",
        help="instances in the local service for the extraction stage (capped at --size)",
    )
    run.add_argument("--page-size", type=int, default=200)
    run.add_argument("--rows-per-file", type=int, default=5_000, help="like --batch-size")
    run.add_argument("--workers", type=int, default=2, help="processes generating the feed")
    run.add_argument("--work", type=Path, help="working directory (default: a temp directory)")
    run.add_argument("--keep", action="store_true", help="keep the working directory")
    run.add_argument("--out", type=Path, help="result file (default bench/results/<size>.json)")
    run.add_argument("--skip-extract", action="store_true")
    run.add_argument(
        "--adf-tables", action="store_true", help="publish the ADF template's tables too"
    )
    run.add_argument(
        "--spark",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="also build the same feed on local Spark (default: up to 100k instances, where "
        "pyspark and the Delta jars are installed: make spark)",
    )

    run.add_argument(
        "--compare-base",
        help="also run the same changes on a base of this size (default: 100k when --size is"
        " larger, else none; 0 for none)",
    )

    generate = commands.add_parser("generate", help="land a generated change feed")
    generate.add_argument("--lake", type=Path, required=True)
    generate.add_argument("--size", default=DEFAULT_SIZE)
    generate.add_argument(
        "--changes", type=int, help="instead: this many new rows on top of the landed feed"
    )
    _shares(generate, "0.05, with --changes 0.25 of the changes", "0.02, with --changes 0.15")
    generate.add_argument("--rows-per-file", type=int, default=5_000)
    generate.add_argument("--workers", type=int, default=2)

    serve = commands.add_parser("serve", help="a local DICOM service loaded with a generated feed")
    serve.add_argument("--size", default="2k")
    serve.add_argument("--port", type=int, default=8080)
    _shares(serve)

    options = parser.parse_args(arguments)
    changes_mode = options.command == "generate" and options.changes
    if options.update_share is None:
        options.update_share = 0.25 if changes_mode else 0.05
    if options.delete_share is None:
        options.delete_share = 0.15 if changes_mode else 0.02
    if options.command == "run":
        from bench.runner import Options
        from bench.runner import run as run_benchmark

        run_benchmark(
            Options(
                instances=parse_size(options.size),
                seed=options.seed,
                update_share=options.update_share,
                delete_share=options.delete_share,
                changes=options.changes,
                extract_instances=parse_size(options.extract_size),
                page_size=options.page_size,
                rows_per_file=options.rows_per_file,
                workers=options.workers,
                work=options.work,
                keep=options.keep,
                out=options.out,
                skip_extract=options.skip_extract,
                adf_tables=options.adf_tables,
                spark=_spark_wanted(options.spark, parse_size(options.size)),
                compare_base=_compare_base(options.compare_base, parse_size(options.size)),
            )
        )
    elif options.command == "generate":
        from bench.generator import plan_changes, write_plan

        if options.changes:
            plan = plan_changes(
                options.lake,
                options.changes,
                seed=options.seed,
                update_share=options.update_share,
                delete_share=options.delete_share,
            )
        else:
            plan = _plan_feed(options)
        summary = write_plan(
            plan, options.lake, rows_per_file=options.rows_per_file, workers=options.workers
        )
        print(f"landed {summary.rows:,} rows in {summary.files} files: {plan.counts}")
    else:
        from bench.generator import feed_store
        from extractor.server import LocalDicomService

        service = LocalDicomService(port=options.port)
        plan = _plan_feed(options)
        entries = feed_store(plan, service.store)
        service.start()
        print(f"{service.url}: {entries:,} change-feed entries {plan.counts}; Ctrl-C stops")
        try:
            service.wait()
        except KeyboardInterrupt:
            pass
        finally:
            service.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
