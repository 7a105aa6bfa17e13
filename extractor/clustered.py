"""A mart's rows in key order, in bounded memory, for creating a clustered Delta table.

DuckDB cannot sort a mart of metadata documents larger than its memory (measured: a 100k-instance
`instance` mart, 1 GB of documents, runs out of memory under a 1 GB limit; its partitioned COPY
runs out of memory too at 1M), so the order is made in two steps: one pass deals the rows into
runs of whole studies, in study order, each run a Parquet file in a scratch directory; then each
run, small enough to sort in memory, is sorted on its own and streamed. The runs follow each other
in study order, so the stream is in key order throughout.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

# rows per run: about 200 MB of documents at 10 KB each, which DuckDB sorts in well under 1 GB
RUN_ROWS = 20_000
_RUN_COLUMN = "dicom_lake_run"
_STUDY = "partition_name, study_instance_uid"


def clustered_batches(
    connection: duckdb.DuckDBPyConnection,
    table: str,
    select_list: str,
    keys: Sequence[str],
    scratch: Path,
    *,
    batch_rows: int,
    run_rows: int = RUN_ROWS,
) -> pa.RecordBatchReader:
    """`select {select_list} from main.{table}` ordered by `keys` (which start with the study).

    The runs are written to `scratch` before this returns; the caller removes it after reading.
    """
    runs = _deal_into_runs(connection, table, select_list, scratch, batch_rows, run_rows)
    if not runs:
        return connection.sql(f"select {select_list} from main.{table}").to_arrow_reader(batch_rows)
    order = ", ".join(f'"{key}"' for key in keys)
    first = _sorted_run(connection, runs[0], order, batch_rows)
    return pa.RecordBatchReader.from_batches(
        first.schema, _chain(first, connection, runs[1:], order, batch_rows)
    )


def _deal_into_runs(
    connection: duckdb.DuckDBPyConnection,
    table: str,
    select_list: str,
    scratch: Path,
    batch_rows: int,
    run_rows: int,
) -> list[Path]:
    # a study's run: how many rows come before the study, in study order, over run_rows
    reader = connection.sql(
        f"""
        with studies as (
            select {_STUDY}, count(*) as study_rows from main.{table} group by all
        ),
        runs as (
            select
                {_STUDY},
                cast(
                    (sum(study_rows) over (order by {_STUDY}) - study_rows) // {run_rows}
                    as bigint
                ) as {_RUN_COLUMN}
            from studies
        )
        select mart.*, runs.{_RUN_COLUMN}
        from (select {select_list} from main.{table}) as mart inner join runs using ({_STUDY})
        """
    ).to_arrow_reader(batch_rows)
    columns = [name for name in reader.schema.names if name != _RUN_COLUMN]
    writers: dict[int, pq.ParquetWriter] = {}
    try:
        for batch in reader:
            # one slice per run: sorted by run, a batch's rows of one run are contiguous
            batch = batch.take(pc.sort_indices(batch.column(_RUN_COLUMN)))
            start = 0
            for counted in pc.value_counts(batch.column(_RUN_COLUMN)).to_pylist():
                run, rows = counted["values"], counted["counts"]
                part = batch.slice(start, rows).select(columns)
                start += rows
                if run not in writers:
                    path = scratch / f"run-{run:08d}.parquet"
                    writers[run] = pq.ParquetWriter(path, part.schema, compression="zstd")
                writers[run].write_batch(part)
    finally:
        for writer in writers.values():
            writer.close()
    return [scratch / f"run-{run:08d}.parquet" for run in sorted(writers)]


def _sorted_run(
    connection: duckdb.DuckDBPyConnection, run: Path, order: str, batch_rows: int
) -> pa.RecordBatchReader:
    return connection.sql(
        f"select * from read_parquet('{_sql_text(run)}') order by {order}"
    ).to_arrow_reader(batch_rows)


def _chain(
    first: pa.RecordBatchReader,
    connection: duckdb.DuckDBPyConnection,
    runs: Sequence[Path],
    order: str,
    batch_rows: int,
) -> Iterator[pa.RecordBatch]:
    yield from first
    for run in runs:
        yield from _sorted_run(connection, run, order, batch_rows)


def _sql_text(path: Path) -> str:
    return str(path).replace("'", "''")
