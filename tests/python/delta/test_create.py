"""The stream a Delta table is created from: every row of the mart, in key order, made of runs
of whole studies sorted one by one (extractor/clustered.py)."""

from __future__ import annotations

import random
from itertools import pairwise
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from extractor.delta.create import clustered_batches

KEYS = ["partition_name", "study_instance_uid", "series_instance_uid", "sop_instance_uid"]


def mart(path: Path, rows: list[tuple[str, str, str, str, str]]) -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect(str(path))
    connection.execute(
        "create table main.instance (partition_name varchar, study_instance_uid varchar, "
        "series_instance_uid varchar, sop_instance_uid varchar, metadata varchar)"
    )
    if rows:
        connection.executemany("insert into main.instance values (?, ?, ?, ?, ?)", rows)
    return connection


def read_studies(run: Path) -> list[dict[str, str]]:
    return pq.read_table(run, columns=KEYS[:2]).to_pylist()


def shuffled_rows() -> list[tuple[str, str, str, str, str]]:
    rows = [
        (partition, f"1.{study}", f"1.{study}.{series}", f"1.{study}.{series}.{n}", "{}" * n)
        for partition in ("a", "b")
        for study in range(9)
        for series in range(1 + study % 3)
        for n in range(1 + study)
    ]
    random.Random(7).shuffle(rows)
    return rows


def test_rows_come_in_key_order_from_runs_of_whole_studies(tmp_path: Path) -> None:
    rows = shuffled_rows()
    connection = mart(tmp_path / "warehouse.duckdb", rows)
    scratch = tmp_path / "scratch"
    scratch.mkdir()

    stream = clustered_batches(connection, "instance", "*", KEYS, scratch, batch_rows=5, run_rows=7)
    streamed = [tuple(row.values()) for row in stream.read_all().to_pylist()]

    assert streamed == sorted(rows)
    runs = sorted(scratch.glob("run-*.parquet"))
    assert len(runs) > 5
    studies = [
        {(row["partition_name"], row["study_instance_uid"]) for row in read_studies(run)}
        for run in runs
    ]
    for earlier, later in pairwise(studies):
        assert not earlier & later  # a study is never split between runs
        assert max(earlier) < min(later)  # and runs follow each other in study order


def test_an_empty_mart_streams_no_rows(tmp_path: Path) -> None:
    connection = mart(tmp_path / "warehouse.duckdb", [])
    stream = clustered_batches(
        connection, "instance", "*", KEYS, tmp_path, batch_rows=5, run_rows=7
    )
    assert stream.read_all().num_rows == 0
    assert stream.schema.names == [*KEYS, "metadata"]
