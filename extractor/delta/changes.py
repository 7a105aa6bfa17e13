"""Change detection: what a MERGE must upsert and delete, and which files it may skip.

Per table, against the sequence that table last published:
- upserts: mart rows whose `last_sequence` is past it, plus every row of an instance (or of its
  series and study) with an event that the published instance_history lacks: that catches events
  that landed late, below the watermark, and the previous history row whose `valid_to` a new
  event closes;
- deletes: keys present in the Delta table and absent from the mart (a key-only anti-join),
  looked for only in the files whose study-UID statistics may hold a changed study;
- both go to Delta in ONE merge, so a table is always at its previous or its new version.

A MERGE's predicate names the changed study UIDs as literal ranges, so delta-rs skips, on their
min/max statistics, the files that cannot hold one instead of reading every file.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset
from deltalake import DeltaTable

from extractor.delta.schema import INSTANCE_KEY, TABLE_KEYS, PublishedTable, literal, quote

DELETE_FLAG = "__dicom_lake_delete"
"""The merge source's column that marks a tombstone (a key to delete)."""
_UNPUBLISHED = "dicom_lake_unpublished_instances"
# DataFusion prunes with an IN list of at most 20 values, so the MERGE's pruning predicate is an
# OR of ranges; past this many studies, neighbouring studies share a range.
_MAX_PRUNING_RANGES = 64
_PRUNING_KEY = "study_instance_uid"
_LEADER_UPSERTS = "dicom_lake_leader_upserts"


def changed_rows(
    connection: duckdb.DuckDBPyConnection, table: str, select_list: str, previous: int
) -> tuple[str, list[Any]]:
    """The query of the mart rows to upsert, found on small columns, then fetched by row id.

    Rows with an event past the watermark, and rows of instances with an event not yet
    published (events that landed late, below the watermark). Deciding on the key columns first
    and fetching the few rows by row id reads the documents of those rows only: a filter with
    the late events' semi join would read every document of the mart.
    """
    entity = INSTANCE_KEY[: len(TABLE_KEYS[table]) if table != "instance_history" else 4]
    entity_list = ", ".join(quote(key) for key in entity)
    touched = f"({entity_list}) in (select {entity_list} from {_UNPUBLISHED})"
    past = "false" if table == "instance_history" else "last_sequence > ?"
    row_ids = connection.execute(
        f"select rowid from main.{table} where {past} or {touched}",
        [] if table == "instance_history" else [previous],
    ).fetchall()
    rows = f"select {select_list} from main.{table} where rowid in (select unnest(?::bigint[]))"
    return rows, [[row_id for (row_id,) in row_ids]]


def published_keys_of_touched_studies(
    connection: duckdb.DuckDBPyConnection, delta: DeltaTable, keys: tuple[str, ...]
) -> pa.Table:
    """The table's published keys, from the files that may hold a study with unpublished events.

    A row leaves a mart only through an event of its instance, so the rows to delete are in
    those studies; a file whose statistics rule them all out is not read.
    """
    studies = sorted(
        study
        for (study,) in connection.execute(
            f"select distinct study_instance_uid from {_UNPUBLISHED}"
        ).fetchall()
    )
    files = pa.table(delta.get_add_actions(flatten=True))
    # The log holds each path percent-encoded (a partition `a/b` is `partition_name=a%252Fb`),
    # the dataset's fragments hold it decoded once.
    paths = [unquote(path) for path in files["path"].to_pylist()]
    low, high = f"min.{_PRUNING_KEY}", f"max.{_PRUNING_KEY}"
    if low in files.column_names and high in files.column_names:
        bounds = zip(paths, files[low].to_pylist(), files[high].to_pylist(), strict=True)
        wanted = {path for path, first, last in bounds if _may_hold_one_of(studies, first, last)}
    else:  # no statistics: every file may hold one
        wanted = set(paths)
    dataset = delta.to_pyarrow_dataset()
    fragments = [fragment for fragment in dataset.get_fragments() if fragment.path in wanted]
    touched = pyarrow.dataset.FileSystemDataset(
        fragments, dataset.schema, dataset.format, dataset.filesystem
    )
    return touched.to_table(columns=list(keys))


def _may_hold_one_of(studies: list[str], first: str | None, last: str | None) -> bool:
    """Whether a file whose study UIDs run from `first` to `last` may hold one of `studies`."""
    if first is None or last is None:
        return True
    # Python orders str by code point, which is the UTF-8 byte order of Parquet statistics.
    index = bisect.bisect_left(studies, first)
    return index < len(studies) and studies[index] <= last


def note_unpublished_events(
    connection: duckdb.DuckDBPyConnection, history_uri: str, options: dict[str, str]
) -> None:
    """Keep in a temp table the instances with events instance_history's Delta table lacks.

    instance_history is published last, so an event it holds is reflected in the other tables
    too: its missing events cover everything any table still has to take in.
    """
    key_list = ", ".join(quote(key) for key in TABLE_KEYS["instance_history"])
    instance_list = ", ".join(quote(key) for key in INSTANCE_KEY)
    if DeltaTable.is_deltatable(history_uri, storage_options=options):
        dataset = DeltaTable(history_uri, storage_options=options).to_pyarrow_dataset()
        connection.register("published_events", dataset)
        published = f"select {key_list} from published_events"
    else:
        # Nothing is published: every event is unpublished. (A `limit 0` here would bind to the
        # whole `except` below and make no event count, losing deletes.)
        published = f"select {key_list} from main.instance_history where false"
    try:
        connection.execute(
            f"create or replace temp table {_UNPUBLISHED} as"
            f" select distinct {instance_list} from ("
            f"   select {key_list} from main.instance_history except {published})"
        )
    finally:
        if "published_events" in published:
            connection.unregister("published_events")


def published_row_count(delta: DeltaTable) -> int | None:
    """The table's rows, from the log's per-file statistics (no data file is read), if known."""
    counts = pa.table(delta.get_add_actions(flatten=True))["num_records"].to_pylist()
    return None if None in counts else sum(counts)


@dataclass(frozen=True)
class KeyMismatch:
    """How a Delta table's keys differ from its mart's."""

    extra: int  # keys the Delta table has and the mart lacks
    missing: int  # keys the mart has and the Delta table lacks
    repeated: int  # rows of the Delta table beyond the first for their key


def key_mismatch(
    connection: duckdb.DuckDBPyConnection, table: PublishedTable, delta: DeltaTable
) -> KeyMismatch:
    """Compare the Delta table's keys with its mart's; reads the key columns of every data file."""
    connection.register("published_keys", delta.to_pyarrow_dataset())
    try:
        key_list = ", ".join(quote(key) for key in table.keys)
        published = f"select {key_list} from published_keys"
        built = f"select {key_list} from main.{table.mart}"
        row = connection.sql(
            f"select (select count(*) from ({published} except {built})),"
            f" (select count(*) from ({built} except {published})),"
            f" (select count(*) from published_keys)"
            f"  - (select count(*) from (select distinct {key_list} from published_keys))"
        ).fetchall()[0]
    finally:
        connection.unregister("published_keys")
    return KeyMismatch(int(row[0]), int(row[1]), int(row[2]))


def merge_source(
    connection: duckdb.DuckDBPyConnection,
    table: str,
    keys: tuple[str, ...],
    upserts: str,
    params: list[Any],
) -> pa.Table:
    """Upserts, then tombstones (keys only, flag set) for rows the mart no longer has."""
    key_list = ", ".join(quote(key) for key in keys)
    query = (
        f"select *, false as {DELETE_FLAG} from ({upserts})"
        f" union all by name"
        f" select {key_list}, true as {DELETE_FLAG} from ("
        f"   select {key_list} from delta_keys"
        f"   except select {key_list} from main.{table})"
    )
    return connection.sql(query, params=params).to_arrow_table()


def changes_of_leader(
    connection: duckdb.DuckDBPyConnection,
    table: PublishedTable,
    select_list: str,
    leader_source: pa.Table,
) -> tuple[str, pa.Table]:
    """What a table that follows a native mart upserts and deletes: what the mart's MERGE did.

    An ADF table has one row per row of the mart it is a view of, keyed alike (`keys` name the
    mart's key columns in the same order), so the mart's upserted keys are its rows to upsert
    and the mart's tombstones its keys to delete. `leader_source` is the mart's merge source.
    Returns the query of the rows to upsert (the upserted keys are registered for it as a view,
    which the caller unregisters with `unregister_leader`) and the keys to delete.
    """
    assert table.follows is not None
    keys = table.keys
    leader_keys = TABLE_KEYS[table.follows]
    renamed = leader_source.select([*leader_keys, DELETE_FLAG]).rename_columns([*keys, DELETE_FLAG])
    upserted = renamed.filter(pc.invert(pc.field(DELETE_FLAG))).select(list(keys))
    deleted = renamed.filter(pc.field(DELETE_FLAG)).select(list(keys))
    connection.register(_LEADER_UPSERTS, upserted)
    key_list = ", ".join(quote(key) for key in keys)
    # A view's semi join is evaluated after its columns, documents included; the ranges of
    # study UIDs are a plain filter, which reaches the mart's scan first.
    study = table.study[1]
    studies = [str(uid) for uid in pc.unique(upserted[study]).to_pylist()]
    rows = (
        f"select {select_list} from main.{table.mart}"
        f" where {study_ranges(studies, quote(study)) if studies else 'false'}"
        f" and ({key_list}) in (select {key_list} from {_LEADER_UPSERTS})"
    )
    return rows, deleted


def unregister_leader(connection: duckdb.DuckDBPyConnection) -> None:
    connection.unregister(_LEADER_UPSERTS)


def pruning_predicate(source: pa.Table, column: str = _PRUNING_KEY) -> str:
    """Literal ranges of the source's study UIDs, for delta-rs to skip files on statistics.

    delta-rs drops the source side of `target.key = source.key` when it streams the source, so
    without literals its MERGE reads every file of the table.
    """
    studies = [str(uid) for uid in pc.unique(source[column]).to_pylist()]
    return study_ranges(studies, f"target.{quote(column)}")


def study_ranges(studies: Iterable[str], column: str) -> str:
    """`column` within at most _MAX_PRUNING_RANGES literal ranges covering the study UIDs."""
    alternatives = " or ".join(
        f"{column} between {literal(low)} and {literal(high)}"
        for low, high in _study_ranges(studies)
    )
    return f"({alternatives})"


def _study_ranges(studies: Iterable[str]) -> list[tuple[str, str]]:
    """At most _MAX_PRUNING_RANGES (first, last) ranges covering the study UIDs, in order."""
    # Python orders str by code point, which is the UTF-8 byte order of Parquet statistics.
    ordered = sorted(studies)
    size = -(-len(ordered) // _MAX_PRUNING_RANGES)  # ceiling
    chunks = [ordered[start : start + size] for start in range(0, len(ordered), size)]
    return [(chunk[0], chunk[-1]) for chunk in chunks]
