"""The stream a Delta table is created from: every row of the mart, in key order, made of runs
of whole studies sorted one by one (extractor/delta/create.py)."""

from __future__ import annotations

import random
from itertools import pairwise
from pathlib import Path

import duckdb

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

    stream = clustered_batches(connection, "instance", "*", KEYS, batch_rows=5, run_rows=7)
    batches = list(stream)
    streamed = [tuple(row.values()) for batch in batches for row in batch.to_pylist()]

    assert streamed == sorted(rows)
    # a batch never holds two runs, so the batches' studies show where the runs start and end
    studies = [
        {(row["partition_name"], row["study_instance_uid"]) for row in batch.to_pylist()}
        for batch in batches
    ]
    runs = [studies[0]]
    for batch in studies[1:]:
        if batch & runs[-1]:
            runs[-1] |= batch
        else:
            runs.append(batch)
    assert len(runs) > 5
    for earlier, later in pairwise(runs):
        assert max(earlier) < min(later)  # runs of whole studies, one after the other
    for run in runs:
        assert len({partition for partition, _ in run}) == 1  # never across partitions
        rows_in_run = sum(1 for row in rows if (row[0], row[1]) in run)
        largest_study = max(sum(1 for row in rows if (row[0], row[1]) == s) for s in run)
        assert rows_in_run < 7 + largest_study  # about run_rows rows each


def test_an_empty_mart_streams_no_rows(tmp_path: Path) -> None:
    connection = mart(tmp_path / "warehouse.duckdb", [])
    stream = clustered_batches(connection, "instance", "*", KEYS, batch_rows=5, run_rows=7)
    assert stream.read_all().num_rows == 0
    assert stream.schema.names == [*KEYS, "metadata"]
