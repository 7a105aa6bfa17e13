"""Creating a Delta table: a mart's rows in key order, in files of about a target size.

Sorted by key, a study's rows land in one or two files, which later MERGEs can rewrite alone (the
target size is kept as the table property `delta.targetFileSize`, which delta-rs's MERGE and
OPTIMIZE then follow). The rows are streamed to delta-rs as record batches, sorted in bounded
memory:

DuckDB cannot sort a mart of metadata documents larger than its memory (measured: a 100k-instance
`instance` mart, 1 GB of documents, runs out of memory under a 1 GB limit; its partitioned COPY
runs out of memory too at 1M), so the order is made in two steps: one pass deals the rows into
runs of whole studies, in study order, each run a Parquet file in a scratch directory; then each
run, small enough to sort in memory, is sorted on its own and streamed. The runs follow each other
in study order, so the stream is in key order throughout.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from deltalake import CommitProperties, DeltaTable, write_deltalake

from extractor.delta.schema import PublishedTable, quote
from extractor.lake import SCRATCH_PREFIX, duckdb_glob_escape

# rows per record batch when a table is created (about 100 MB of metadata documents at 10 KB)
_CREATE_BATCH_ROWS = 10_000
# A MERGE rewrites whole files: smaller files rewrite less per changed study, larger ones leave
# readers fewer files to open. Applies when a table is created, like partitioning.
DEFAULT_TARGET_FILE_SIZE = 4 * 1024 * 1024
_TARGET_FILE_SIZE_PROPERTY = "delta.targetFileSize"
# rows per run: about 200 MB of documents at 10 KB each, which DuckDB sorts in well under 1 GB
RUN_ROWS = 20_000
_RUN_COLUMN = "dicom_lake_run"


def create_table(
    connection: duckdb.DuckDBPyConnection,
    table: PublishedTable,
    uri: str,
    select_list: str,
    options: dict[str, str],
    commit: CommitProperties,
    *,
    partition_by_partition_name: bool,
    target_file_size: int,
    scratch_root: Path,
) -> int:
    """Create the Delta table at `uri` from the mart, clustered by key; returns its version."""
    with tempfile.TemporaryDirectory(dir=scratch_root, prefix=SCRATCH_PREFIX) as scratch:
        data = clustered_batches(
            connection,
            table.mart,
            select_list,
            table.keys,
            Path(scratch),
            batch_rows=_CREATE_BATCH_ROWS,
        )
        write_deltalake(
            uri,
            data,
            mode="error",
            partition_by=[table.study[0]] if partition_by_partition_name else None,
            configuration={_TARGET_FILE_SIZE_PROPERTY: str(target_file_size)},
            target_file_size=target_file_size,
            storage_options=options,
            commit_properties=commit,
        )
    return DeltaTable(uri, storage_options=options).version()


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
    """`select {select_list} from main.{table}` ordered by `keys` (whose first two are the
    partition and the study UID).

    The runs are written to `scratch` before this returns; the caller removes it after reading.
    """
    study = ", ".join(quote(key) for key in keys[:2])
    runs = _deal_into_runs(connection, table, select_list, study, scratch, batch_rows, run_rows)
    if not runs:
        return connection.sql(f"select {select_list} from main.{table}").to_arrow_reader(batch_rows)
    order = ", ".join(quote(key) for key in keys)
    first = _sorted_run(connection, runs[0], order, batch_rows)
    return pa.RecordBatchReader.from_batches(
        first.schema, _chain(first, connection, runs[1:], order, batch_rows)
    )


def _deal_into_runs(
    connection: duckdb.DuckDBPyConnection,
    table: str,
    select_list: str,
    study: str,
    scratch: Path,
    batch_rows: int,
    run_rows: int,
) -> list[Path]:
    # a study's run: how many rows come before the study, in study order, over run_rows
    reader = connection.sql(
        f"""
        with studies as (
            select {study}, count(*) as study_rows from main.{table} group by all
        ),
        runs as (
            select
                {study},
                cast(
                    (sum(study_rows) over (order by {study}) - study_rows) // {run_rows}
                    as bigint
                ) as {_RUN_COLUMN}
            from studies
        )
        select mart.*, runs.{_RUN_COLUMN}
        from (select {select_list} from main.{table}) as mart inner join runs using ({study})
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
    """A file's path as a SQL string for read_parquet: quotes doubled, glob characters literal."""
    return duckdb_glob_escape(str(path)).replace("'", "''")
