"""Creating a Delta table: a mart's rows in key order, in files of about a target size.

Sorted by key, a study's rows land in one or two files, which later MERGEs can rewrite alone.
The rows are streamed to delta-rs as record batches, sorted in bounded memory:

DuckDB cannot sort a mart of metadata documents larger than its memory (measured: a
100k-instance `instance` mart, 1 GB of documents, runs out of memory under a 1 GB limit), so the
mart is read in runs of whole studies of about `RUN_ROWS` rows, in study order, each run one
query (`study_instance_uid between` its first and last study, within one partition) sorted on
its own. DuckDB's scan reads the filter's key columns first and the documents of the matching
rows only, so each document is read once however many runs there are (at 100k instances: 0.4 s
to read every document, 0.03 s for one run's).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import duckdb
import pyarrow as pa
from deltalake import CommitProperties, DeltaTable, write_deltalake

from extractor.delta.files import TARGET_FILE_SIZE_PROPERTY, writer_properties
from extractor.delta.schema import PublishedTable, quote

# rows per record batch when a table is created (about 100 MB of metadata documents at 10 KB)
_CREATE_BATCH_ROWS = 10_000
# rows per run: about 200 MB of documents at 10 KB each, which DuckDB sorts in well under 1 GB
RUN_ROWS = 20_000


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
    codec: str,
) -> int:
    """Create the Delta table at `uri` from the mart, clustered by key; returns its version."""
    data = clustered_batches(
        connection, table.mart, select_list, table.keys, batch_rows=_CREATE_BATCH_ROWS
    )
    write_deltalake(
        uri,
        data,
        mode="error",
        partition_by=[table.study[0]] if partition_by_partition_name else None,
        configuration={TARGET_FILE_SIZE_PROPERTY: str(target_file_size)},
        target_file_size=target_file_size,
        writer_properties=writer_properties(codec),
        storage_options=options,
        commit_properties=commit,
    )
    return DeltaTable(uri, storage_options=options).version()


def clustered_batches(
    connection: duckdb.DuckDBPyConnection,
    table: str,
    select_list: str,
    keys: Sequence[str],
    *,
    batch_rows: int,
    run_rows: int = RUN_ROWS,
) -> pa.RecordBatchReader:
    """`select {select_list} from main.{table}` ordered by `keys` (whose first two are the
    partition and the study UID), run by run."""
    runs = _study_runs(connection, table, keys[:2], run_rows)
    if not runs:
        return connection.sql(f"select {select_list} from main.{table}").to_arrow_reader(batch_rows)
    order = ", ".join(quote(key) for key in keys)
    partition, study = (quote(key) for key in keys[:2])
    query = (
        f"select {select_list} from main.{table}"
        f" where {partition} = $partition and {study} between $first and $last"
        f" order by {order}"
    )
    first = _run(connection, query, runs[0], batch_rows)
    return pa.RecordBatchReader.from_batches(
        first.schema, _chain(first, connection, query, runs[1:], batch_rows)
    )


def _study_runs(
    connection: duckdb.DuckDBPyConnection, table: str, study: Sequence[str], run_rows: int
) -> list[dict[str, str]]:
    """Each run's partition, first and last study: whole studies, in study order, a run's rows
    (the rows before its studies in their partition, over run_rows) never crossing a partition."""
    partition, uid = (quote(key) for key in study)
    rows = connection.sql(
        f"""
        with studies as (
            select {partition} as partition, {uid} as study, count(*) as study_rows
            from main.{table}
            group by all
        ),
        numbered as (
            select
                partition,
                study,
                (sum(study_rows) over (partition by partition order by study) - study_rows)
                    // {run_rows} as run
            from studies
        )
        select partition, min(study) as first, max(study) as last
        from numbered
        group by partition, run
        order by partition, first
        """
    ).fetchall()
    return [dict(zip(("partition", "first", "last"), row, strict=True)) for row in rows]


def _run(
    connection: duckdb.DuckDBPyConnection, query: str, run: dict[str, str], batch_rows: int
) -> pa.RecordBatchReader:
    return connection.sql(query, params=run).to_arrow_reader(batch_rows)


def _chain(
    first: pa.RecordBatchReader,
    connection: duckdb.DuckDBPyConnection,
    query: str,
    runs: Sequence[dict[str, str]],
    batch_rows: int,
) -> Iterator[pa.RecordBatch]:
    # one run's result is read to its end before the next query replaces it on the connection
    yield from first
    for run in runs:
        yield from _run(connection, query, run, batch_rows)
