"""The benchmark's generator and runner, at tiny sizes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.parquet as pq
import pytest

# The bench package lives at the repository root, next to extractor/ (not an installed package):
# pytest's pythonpath (pyproject.toml) puts the root on sys.path.
from bench.generator import (
    feed_store,
    parse_size,
    plan_changes,
    plan_feed,
    write_plan,
)
from bench.reference import mismatches
from bench.runner import Options, run
from bench.stages import reference, reference_check
from bench.templates import MAX_BYTES, MIN_BYTES
from extractor.lake import Lake
from extractor.landing import LANDING_SCHEMA
from extractor.server.store import DicomStore


def _landed(lake: Path) -> str:
    return Lake(lake).changefeed_glob


def test_parse_size() -> None:
    assert parse_size("20k") == 20_000
    assert parse_size("1M") == 1_000_000
    assert parse_size("1500") == 1500


def test_generated_landing_files(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    plan = plan_feed(3_000, seed=7, update_share=0.10, delete_share=0.05)
    summary = write_plan(plan, lake, rows_per_file=1_000, workers=2)
    assert summary.rows == 3_000 + 300 + 150
    assert plan.counts == {"Create": 3_000, "Update": 300, "Delete": 150}

    files = sorted(Lake(lake).changefeed.glob("changefeed-*.parquet"))
    assert len(files) == summary.files == 4
    for file in files:
        assert pq.read_schema(file).equals(LANDING_SCHEMA)

    with duckdb.connect() as connection:
        rows = connection.execute(
            "select action, count(*), count(distinct sop_instance_uid),"
            " count(metadata), count(*) filter (where json_valid(metadata)),"
            " min(length(metadata)), max(length(metadata)),"
            " min(json_array_length(json_keys(metadata))),"
            " max(json_array_length(json_keys(metadata)))"
            " from read_parquet(?) group by action order by action",
            [_landed(lake)],
        ).fetchall()
        by_action = {row[0]: row[1:] for row in rows}
        assert by_action["Create"][:2] == (3_000, 3_000)
        assert by_action["Update"][:2] == (300, 300)
        assert by_action["Delete"][:3] == (150, 150, 0)  # a deleted instance has no metadata
        for action in ("Create", "Update"):
            total, _, documents, valid, shortest, longest, fewest, most = by_action[action]
            assert documents == valid == total
            assert shortest >= MIN_BYTES and longest <= MAX_BYTES
            assert fewest >= 80 and most <= 140

        def landed_row(sql: str) -> tuple[Any, ...] | None:
            """The one row of ``sql``, whose ``read_parquet(?)`` reads the landed files."""
            return connection.execute(sql, [_landed(lake)]).fetchone()

        # Sequences 1..n without gaps; timestamps rise with them; keys match the metadata.
        assert landed_row(
            "select min(sequence), max(sequence), count(distinct sequence) from read_parquet(?)"
        ) == (1, summary.rows, summary.rows)
        assert landed_row(
            "select count(*) from (select timestamp, lag(timestamp) over (order by sequence)"
            " as previous from read_parquet(?)) where previous >= timestamp"
        ) == (0,)
        assert landed_row(
            "select count(*) from read_parquet(?) where metadata is not null and ("
            " metadata->>'$.\"00080018\".Value[0]' != sop_instance_uid"
            " or metadata->>'$.\"0020000D\".Value[0]' != study_instance_uid)"
        ) == (0,)
        # Every instance deleted or updated was created before; updates cover whole studies.
        assert landed_row(
            "with f as (select * from read_parquet(?)),"
            " created as (select sop_instance_uid, min(sequence) as s from f"
            "  where action = 'Create' group by 1)"
            " select count(*) from f join created using (sop_instance_uid)"
            " where f.action != 'Create' and f.sequence < created.s"
        ) == (0,)
        assert landed_row(
            "with f as (select * from read_parquet(?)),"
            " updated as (select distinct study_instance_uid from f where action = 'Update')"
            " select count(*) filter (where action = 'Create'),"
            "  count(*) filter (where action = 'Update') from f"
            " where study_instance_uid in (select * from updated)"
        ) == (300, 300)
        modalities = landed_row(
            "select count(distinct metadata->>'$.\"00080060\".Value[0]') from read_parquet(?)"
        )
        assert modalities is not None and modalities[0] >= 3


def test_changes_on_top_of_a_lake(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    base = write_plan(plan_feed(4_000, seed=3), lake, rows_per_file=2_000, workers=1)
    plan = plan_changes(lake, 500, seed=4, update_share=0.2, delete_share=0.1)
    write_plan(plan, lake, rows_per_file=10_000, workers=1)
    assert sum(plan.counts.values()) == 500
    assert plan.counts["Delete"] == 50
    assert 0 < plan.counts["Update"] <= 100
    with duckdb.connect() as connection:
        first, last, total = connection.execute(
            "select min(sequence), max(sequence), count(*) from read_parquet(?) where sequence > ?",
            [_landed(lake), base.rows],
        ).fetchone() or (0, 0, 0)
        assert (first, last, total) == (base.rows + 1, base.rows + 500, 500)
        # Updates and deletes name instances that existed; updated metadata stays valid JSON.
        assert connection.execute(
            "with f as (select * from read_parquet(?)),"
            " new as (select * from f where sequence > ? and action != 'Create')"
            " select count(*) from new where sop_instance_uid not in"
            " (select sop_instance_uid from f where sequence <= ?)"
            " or (action = 'Update' and not json_valid(metadata))",
            [_landed(lake), base.rows, base.rows],
        ).fetchone() == (0,)


def test_feed_store_replays_the_plan() -> None:
    plan = plan_feed(300, seed=5, update_share=0.1, delete_share=0.1)
    store = DicomStore()
    assert feed_store(plan, store) == plan.rows
    rows = store.read_feed(limit=10_000)
    assert [row.sequence for row in rows] == list(range(1, plan.rows + 1))
    actions = {action: sum(row.action == action for row in rows) for action in plan.counts}
    assert actions == plan.counts
    assert len(store.instance_keys()) == 300 - plan.counts["Delete"]


@pytest.mark.timeout(600)
def test_tiny_benchmark_writes_its_json(tmp_path: Path) -> None:
    out = tmp_path / "results" / "tiny.json"
    work = tmp_path / "work"
    run(
        Options(
            instances=1_500,
            changes=300,
            extract_instances=300,
            rows_per_file=500,
            work=work,
            out=out,
            keep=True,
            compare_base=500,
        )
    )
    results = json.loads(out.read_text())
    stages = results["stages"]
    for key in ("floor", "reference", "full_build", "full_publish", "incremental_build", "extract"):
        assert stages[key]["seconds"] > 0
        assert stages[key]["peak_rss_mb"] > 0
    assert stages["incremental_publish"]["tables"]["instance"]["upserted"] > 0
    assert stages["extract"]["client"]["entries_read"] == stages["extract"]["entries"]
    # the reference wrote the instance mart's rows, checked column by column
    check = stages["reference_check"]
    assert check["only_in_reference"] == check["only_in_mart"] == 0
    assert check["reference_rows"] == check["mart_rows"] == stages["reference"]["rows"] > 1_000
    assert stages["nothing_new_build"]["up_to_date"]
    assert not stages["incremental_build"]["up_to_date"]
    assert stages["small_incremental_build"]["seconds"] > 0
    summary = results["summary"]
    assert summary["full_ratio_to_floor"] > 0 and summary["full_ratio_to_reference"] > 0
    assert summary["incremental_ratio_to_small_base"] > 0
    assert len(summary["targets"]) == 6

    # after the changes too, the reference equals the incrementally built mart...
    lake = work / "lake"
    after = work / "after-changes.parquet"
    assert (
        reference(str(lake), str(after))["rows"]
        == reference_check(str(lake), str(after))["mart_rows"]
    )
    # ...and the check fails on a value the two disagree on
    with duckdb.connect(str(Lake(lake).warehouse)) as connection:
        connection.execute(
            "update instance set study_date = study_date + 1"
            " where sop_instance_uid = (select min(sop_instance_uid) from instance)"
        )
    with duckdb.connect() as connection:
        counts = mismatches(connection, Lake(lake).warehouse, after)
    assert counts["only_in_reference"] == counts["only_in_mart"] == 1
    with pytest.raises(RuntimeError, match="differs from the instance mart"):
        reference_check(str(lake), str(after))
