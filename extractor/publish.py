"""Publish the dbt marts as Delta Lake tables for Fabric, Spark, Databricks, DuckDB and Polars.

Each publication commits at most one version per table and records in it the change-feed
watermark it reflects, twice: as a Delta `txn` action (app id `dicom-lake-publish`, version = the
watermark's sequence), which lives in the table's snapshot and checkpoints so reading it back is
cheap, and as commit metadata (`dicom_lake.watermark_sequence`, `dicom_lake.watermark_timestamp`)
that `DESCRIBE HISTORY` and `DeltaTable.history()` show, so readers can align the four tables.

Change detection, per table, against the watermark that table last published:
- upserts: mart rows whose `last_sequence` is past it, plus every row of an instance (or of its
  series and study) with an event that the published instance_history lacks: that catches events
  that landed late, below the watermark, and the previous history row whose `valid_to` a new
  event closes;
- deletes: keys present in the Delta table and absent from the mart (a key-only anti-join);
- both go to Delta in ONE merge, so a table is always at its previous or its new version, and
  a table interrupted behind the others catches up on the next run.
Nothing to merge and the same watermark: nothing is committed.

Layout, so that a MERGE's cost follows the size of the change: a table is created sorted by its
key, in files of about `target_file_size` bytes (kept as the table property
`delta.targetFileSize`, which delta-rs's MERGE and OPTIMIZE then follow), so a study's rows sit in
one or two files. A MERGE rewrites only the files holding a changed row, and its predicate names
the study UIDs of the change as literals, so delta-rs skips, on their min/max statistics, the files
that cannot hold one instead of reading every file.
"""

from __future__ import annotations

import bisect
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset
from deltalake import CommitProperties, DeltaTable, Transaction, write_deltalake

from extractor.clustered import clustered_batches
from extractor.landing import Watermark, read_watermark

log = logging.getLogger(__name__)

APP_ID = "dicom-lake-publish"
META_SEQUENCE = "dicom_lake.watermark_sequence"
META_TIMESTAMP = "dicom_lake.watermark_timestamp"
META_TABLE = "dicom_lake.table"
_DELETE_FLAG = "__dicom_lake_delete"
# rows per record batch when a table is created (about 100 MB of metadata documents at 10 KB)
_CREATE_BATCH_ROWS = 10_000
# where a table's creation sorts its runs, under the lake directory
_SCRATCH_PREFIX = ".publish-"
# DuckDB's share of the publication's memory (it spills past it); delta-rs needs the rest
_DUCKDB_MEMORY_LIMIT = "1GB"
# A MERGE rewrites whole files: smaller files rewrite less per changed study, larger ones leave
# readers fewer files to open. Applies when a table is created, like partitioning.
DEFAULT_TARGET_FILE_SIZE = 4 * 1024 * 1024
_TARGET_FILE_SIZE_PROPERTY = "delta.targetFileSize"
# DataFusion prunes with an IN list of at most 20 values, so the MERGE's pruning predicate is an
# OR of ranges; past this many studies, neighbouring studies share a range.
_MAX_PRUNING_RANGES = 64
_PRUNING_KEY = "study_instance_uid"
_AZURE_SCHEMES = ("az://", "abfs://", "abfss://", "adl://", "azure://")
_STORAGE_SCOPE = "https://storage.azure.com/.default"

# Key columns of each mart, in publication order.
TABLE_KEYS: dict[str, tuple[str, ...]] = {
    "instance": (
        "partition_name",
        "study_instance_uid",
        "series_instance_uid",
        "sop_instance_uid",
    ),
    "series": ("partition_name", "study_instance_uid", "series_instance_uid"),
    "study": ("partition_name", "study_instance_uid"),
    "instance_history": (
        "partition_name",
        "study_instance_uid",
        "series_instance_uid",
        "sop_instance_uid",
        "sequence",
    ),
}
TABLES: tuple[str, ...] = tuple(TABLE_KEYS)
_INSTANCE_KEY = TABLE_KEYS["instance"]
_UNPUBLISHED = "dicom_lake_unpublished_instances"

# Delta has no time-of-day type: DuckDB TIME columns are published as ISO-8601 text
# ("14:30:05", "14:30:05.25"). Other types without a Delta counterpart become text too.
_AS_TEXT_TYPES = ("TIME", "TIME WITH TIME ZONE", "TIMETZ", "UUID", "INTERVAL", "BIT")
_AS_DECIMAL_TYPES = ("HUGEINT", "UHUGEINT")


@dataclass(frozen=True)
class TablePublication:
    """What one publication did to one table."""

    table: str
    uri: str
    version: int | None  # the version committed, None when nothing was committed
    previous_sequence: int | None
    upserted: int = 0
    deleted: int = 0
    created: bool = False
    added_columns: tuple[str, ...] = ()

    @property
    def committed(self) -> bool:
        return self.version is not None


@dataclass(frozen=True)
class PublishResult:
    watermark: Watermark
    delta_uri: str
    tables: list[TablePublication] = field(default_factory=list)

    @property
    def committed(self) -> bool:
        return any(table.committed for table in self.tables)


def resolve_delta_uri(lake_dir: Path, delta_uri: str | None = None) -> str:
    """The given URI (flag or DICOM_LAKE_DELTA_URI, read by the CLI), else `<lake>/delta`."""
    uri = delta_uri or str(Path(lake_dir).resolve() / "delta")
    return uri.rstrip("/")


def table_uri(delta_uri: str, table: str) -> str:
    return f"{delta_uri.rstrip('/')}/{table}"


def is_azure_uri(uri: str) -> bool:
    lowered = uri.lower()
    return lowered.startswith(_AZURE_SCHEMES) or (
        lowered.startswith("https://") and ".core.windows.net" in lowered
    )


def storage_options_for(
    uri: str,
    storage_options: Mapping[str, str] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    credential_factory: Callable[[], Any] | None = None,
) -> dict[str, str]:
    """delta-rs storage options for `uri`: nothing for local paths; for Azure, from the environment.

    An account key or SAS token in the environment wins; otherwise the azure-identity
    DefaultAzureCredential (the extractor's credential chain) gets a storage token, passed as
    `bearer_token`. Options given explicitly override both. Values are secrets: never log them.
    """
    explicit = dict(storage_options or {})
    if not is_azure_uri(uri):
        return explicit
    env = os.environ if environ is None else environ
    options: dict[str, str] = {}
    for variable, option in (
        ("AZURE_STORAGE_ACCOUNT_NAME", "account_name"),
        ("AZURE_STORAGE_ACCOUNT_KEY", "account_key"),
        ("AZURE_STORAGE_SAS_TOKEN", "sas_token"),
        # For emulators and sovereign clouds, e.g. http://127.0.0.1:10000/devstoreaccount1.
        ("AZURE_STORAGE_ENDPOINT", "endpoint"),
    ):
        if env.get(variable):
            options[option] = env[variable]
    if options.get("endpoint", "").startswith("http://"):
        # Only an explicitly configured plain-HTTP endpoint (Azurite) may use HTTP.
        options["allow_http"] = "true"
    options.update(explicit)
    authenticated = {"account_key", "sas_token", "bearer_token", "token", "sas_key"} & set(options)
    if not authenticated and "use_emulator" not in options:
        options["bearer_token"] = _azure_storage_token(credential_factory)
    log.debug("Azure storage options for %s: %s", uri, sorted(options))
    return options


def _azure_storage_token(credential_factory: Callable[[], Any] | None) -> str:
    if credential_factory is None:
        from azure.identity import DefaultAzureCredential

        credential_factory = DefaultAzureCredential
    credential = credential_factory()
    return str(credential.get_token(_STORAGE_SCOPE).token)


def publish(
    lake_dir: Path,
    delta_uri: str | None = None,
    *,
    watermark: Watermark | None = None,
    storage_options: Mapping[str, str] | None = None,
    partition_by_partition_name: bool = False,
    full_refresh: bool = False,
    tables: Iterable[str] = TABLES,
    target_file_size: int = DEFAULT_TARGET_FILE_SIZE,
) -> PublishResult:
    """Publish the marts of `<lake>/warehouse.duckdb` to `<delta_uri>/<table>`.

    `watermark` is the point of the change feed the marts reflect (defaults to what has landed).
    `partition_by_partition_name` and `target_file_size` (bytes) apply when a table is created;
    later runs keep its layout.
    `full_refresh` re-merges every row (after a change of model logic that moved no sequence).
    """
    lake_dir = Path(lake_dir)
    uri = resolve_delta_uri(lake_dir, delta_uri)
    # Scratch runs of a creation killed half-way (publications never overlap: the run lock)
    for stale in lake_dir.glob(f"{_SCRATCH_PREFIX}*"):
        shutil.rmtree(stale, ignore_errors=True)
    if watermark is None:
        watermark = read_watermark(lake_dir)
        if watermark is None:
            raise ValueError(f"nothing has landed under {lake_dir}: no watermark to publish")
    options = storage_options_for(uri, storage_options)
    result = PublishResult(watermark=watermark, delta_uri=uri)
    warehouse = lake_dir / "warehouse.duckdb"
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        # Arrow timestamps with time zone come out in the session zone: make it UTC for Delta.
        connection.execute("set TimeZone = 'UTC'")
        connection.execute(f"set memory_limit = '{_DUCKDB_MEMORY_LIMIT}'")
        _note_unpublished_events(connection, table_uri(uri, "instance_history"), options)
        for table in tables:
            publication = _publish_table(
                connection,
                table,
                table_uri(uri, table),
                watermark,
                options,
                partition_by_partition_name=partition_by_partition_name,
                full_refresh=full_refresh,
                target_file_size=target_file_size,
                scratch_root=lake_dir,
            )
            result.tables.append(publication)
            log.info(
                "published %s: version %s, %d upserted, %d deleted",
                table,
                publication.version,
                publication.upserted,
                publication.deleted,
            )
    return result


def _publish_table(
    connection: duckdb.DuckDBPyConnection,
    table: str,
    uri: str,
    watermark: Watermark,
    options: dict[str, str],
    *,
    partition_by_partition_name: bool,
    full_refresh: bool,
    target_file_size: int,
    scratch_root: Path,
) -> TablePublication:
    keys = TABLE_KEYS[table]
    columns = _mart_columns(connection, table)
    _check_keys(connection, table, keys)
    select_list = ", ".join(_export_expression(name, type_) for name, type_ in columns)
    commit = _commit_properties(table, watermark)

    if not DeltaTable.is_deltatable(uri, storage_options=options):
        return _create_table(
            connection,
            table,
            uri,
            select_list,
            options,
            commit,
            partition_by_partition_name=partition_by_partition_name,
            target_file_size=target_file_size,
            scratch_root=scratch_root,
        )

    delta = DeltaTable(uri, storage_options=options)
    previous = delta.transaction_version(APP_ID)
    existing = set(delta.schema().to_arrow().names)
    added = tuple(name for name, _ in columns if name not in existing)
    if previous is not None and previous > watermark.sequence:
        log.warning(
            "%s already reflects sequence %d, past the marts' %d: left as it is",
            uri,
            previous,
            watermark.sequence,
        )
        return TablePublication(table, uri, None, previous)
    params: list[Any] = []
    if full_refresh or added or previous is None:
        upserts = f"select {select_list} from main.{table}"
        published: pyarrow.dataset.Dataset | pa.Table = delta.to_pyarrow_dataset()
    else:
        upserts, params = _changed_rows(connection, table, select_list, previous)
        published = _published_keys_of_touched_studies(connection, delta, keys)
    connection.register("delta_keys", published)
    try:
        source = _merge_source(connection, table, keys, upserts, params)
    finally:
        connection.unregister("delta_keys")
    deleted = source.filter(pc.field(_DELETE_FLAG)).num_rows
    upserted = source.num_rows - deleted
    if source.num_rows == 0 and previous == watermark.sequence:
        # Nothing changed and the feed did not move: publishing twice commits nothing.
        return TablePublication(table, uri, None, previous)

    if source.num_rows == 0:
        # No row changed, yet the feed moved on: an empty commit records the new watermark so
        # that all four tables carry it.
        empty = connection.sql(f"select {select_list} from main.{table} limit 0").to_arrow_table()
        write_deltalake(
            delta,
            empty,
            mode="append",
            schema_mode="merge" if added else None,
            commit_properties=commit,
        )
    else:
        predicate = " and ".join(
            [f"target.{key} = source.{key}" for key in keys] + [_pruning_predicate(source)]
        )
        (
            delta.merge(
                source,
                predicate,
                source_alias="source",
                target_alias="target",
                merge_schema=bool(added),
                commit_properties=commit,
            )
            .when_matched_delete(f"source.{_DELETE_FLAG}")
            .when_matched_update_all(f"not source.{_DELETE_FLAG}", except_cols=[_DELETE_FLAG])
            .when_not_matched_insert_all(f"not source.{_DELETE_FLAG}", except_cols=[_DELETE_FLAG])
            .execute()
        )
    delta = DeltaTable(uri, storage_options=options)
    return TablePublication(
        table,
        uri,
        delta.version(),
        previous,
        upserted=upserted,
        deleted=deleted,
        added_columns=added,
    )


def _create_table(
    connection: duckdb.DuckDBPyConnection,
    table: str,
    uri: str,
    select_list: str,
    options: dict[str, str],
    commit: CommitProperties,
    *,
    partition_by_partition_name: bool,
    target_file_size: int,
    scratch_root: Path,
) -> TablePublication:
    rows = connection.sql(f"select count(*) from main.{table}").fetchall()[0][0]
    # Sorted by key, a study's rows land in one or two files, which later MERGEs can rewrite
    # alone; streamed to delta-rs as record batches, sorted run by run in bounded memory.
    with tempfile.TemporaryDirectory(dir=scratch_root, prefix=_SCRATCH_PREFIX) as scratch:
        data = clustered_batches(
            connection,
            table,
            select_list,
            TABLE_KEYS[table],
            Path(scratch),
            batch_rows=_CREATE_BATCH_ROWS,
        )
        write_deltalake(
            uri,
            data,
            mode="error",
            partition_by=["partition_name"] if partition_by_partition_name else None,
            configuration={_TARGET_FILE_SIZE_PROPERTY: str(target_file_size)},
            target_file_size=target_file_size,
            storage_options=options,
            commit_properties=commit,
        )
    version = DeltaTable(uri, storage_options=options).version()
    return TablePublication(table, uri, version, None, upserted=rows, created=True)


def _pruning_predicate(source: pa.Table) -> str:
    """Literal ranges of the source's study UIDs, for delta-rs to skip files on statistics.

    delta-rs drops the source side of `target.key = source.key` when it streams the source, so
    without literals its MERGE reads every file of the table.
    """
    studies = [str(uid) for uid in pc.unique(source[_PRUNING_KEY]).to_pylist()]
    column = f"target.{_PRUNING_KEY}"
    alternatives = " or ".join(
        f"{column} between {_literal(low)} and {_literal(high)}"
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


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _mart_columns(connection: duckdb.DuckDBPyConnection, table: str) -> list[tuple[str, str]]:
    rows = connection.execute(
        "select column_name, data_type from information_schema.columns"
        " where table_schema = 'main' and table_name = ? order by ordinal_position",
        [table],
    ).fetchall()
    if not rows:
        raise ValueError(f"mart main.{table} does not exist in the warehouse")
    return [(str(name), str(type_)) for name, type_ in rows]


def _check_keys(connection: duckdb.DuckDBPyConnection, table: str, keys: tuple[str, ...]) -> None:
    # A null key never matches in MERGE, so it would be inserted again on every run.
    condition = " or ".join(f"{_quote(key)} is null" for key in keys)
    rows = connection.execute(f"select count(*) from main.{table} where {condition}").fetchall()
    if rows[0][0]:
        raise ValueError(f"main.{table} has {rows[0][0]} rows with a null key: cannot publish")


def _export_expression(name: str, type_: str) -> str:
    quoted = _quote(name)
    if type_.upper() in _AS_TEXT_TYPES:
        return f"cast({quoted} as varchar) as {quoted}"
    if type_.upper() in _AS_DECIMAL_TYPES:
        return f"cast({quoted} as decimal(38, 0)) as {quoted}"
    return quoted


def _changed_rows(
    connection: duckdb.DuckDBPyConnection, table: str, select_list: str, previous: int
) -> tuple[str, list[Any]]:
    """The query of the mart rows to upsert, found on small columns, then fetched by row id.

    Rows with an event past the watermark, and rows of instances with an event not yet
    published (events that landed late, below the watermark). Deciding on the key columns first
    and fetching the few rows by row id reads the documents of those rows only: a filter with
    the late events' semi join would read every document of the mart.
    """
    entity = _INSTANCE_KEY[: len(TABLE_KEYS[table]) if table != "instance_history" else 4]
    entity_list = ", ".join(_quote(key) for key in entity)
    touched = f"({entity_list}) in (select {entity_list} from {_UNPUBLISHED})"
    past = "false" if table == "instance_history" else "last_sequence > ?"
    row_ids = connection.execute(
        f"select rowid from main.{table} where {past} or {touched}",
        [] if table == "instance_history" else [previous],
    ).fetchall()
    rows = f"select {select_list} from main.{table} where rowid in (select unnest(?::bigint[]))"
    return rows, [[row_id for (row_id,) in row_ids]]


def _published_keys_of_touched_studies(
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
    low, high = f"min.{_PRUNING_KEY}", f"max.{_PRUNING_KEY}"
    if low in files.column_names and high in files.column_names:
        paths, lows, highs = (files[name].to_pylist() for name in ("path", low, high))
        bounds = zip(paths, lows, highs, strict=True)
        wanted = {path for path, first, last in bounds if _may_hold_one_of(studies, first, last)}
    else:  # no statistics: every file may hold one
        wanted = set(files["path"].to_pylist())
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


def _note_unpublished_events(
    connection: duckdb.DuckDBPyConnection, history_uri: str, options: dict[str, str]
) -> None:
    """Keep in a temp table the instances with events instance_history's Delta table lacks.

    instance_history is published last, so an event it holds is reflected in the other tables
    too: its missing events cover everything any table still has to take in.
    """
    key_list = ", ".join(_quote(key) for key in TABLE_KEYS["instance_history"])
    instance_list = ", ".join(_quote(key) for key in _INSTANCE_KEY)
    if DeltaTable.is_deltatable(history_uri, storage_options=options):
        dataset = DeltaTable(history_uri, storage_options=options).to_pyarrow_dataset()
        connection.register("published_events", dataset)
        published = f"select {key_list} from published_events"
    else:
        published = f"select {key_list} from main.instance_history limit 0"
    try:
        connection.execute(
            f"create or replace temp table {_UNPUBLISHED} as"
            f" select distinct {instance_list} from ("
            f"   select {key_list} from main.instance_history except {published})"
        )
    finally:
        if "published_events" in published:
            connection.unregister("published_events")


def _merge_source(
    connection: duckdb.DuckDBPyConnection,
    table: str,
    keys: tuple[str, ...],
    upserts: str,
    params: list[Any],
) -> pa.Table:
    """Upserts, then tombstones (keys only, flag set) for rows the mart no longer has."""
    key_list = ", ".join(_quote(key) for key in keys)
    query = (
        f"select *, false as {_DELETE_FLAG} from ({upserts})"
        f" union all by name"
        f" select {key_list}, true as {_DELETE_FLAG} from ("
        f"   select {key_list} from delta_keys"
        f"   except select {key_list} from main.{table})"
    )
    return connection.sql(query, params=params).to_arrow_table()


def _commit_properties(table: str, watermark: Watermark) -> CommitProperties:
    return CommitProperties(
        custom_metadata={
            META_SEQUENCE: watermark.sequence,
            META_TIMESTAMP: _utc_iso(watermark.timestamp),
            META_TABLE: table,
        },
        app_transactions=[Transaction(APP_ID, watermark.sequence)],
    )


def _utc_iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat()


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def version_as_of_sequence(
    uri: str, sequence: int, storage_options: Mapping[str, str] | None = None
) -> int | None:
    """The newest version of a published table that reflects the feed up to `sequence`, if any.

    Load it with `DeltaTable(uri, version=...)` to read the table "as of sequence N"; do it for
    the four tables to read the whole lake at one point of the feed.
    """
    options = storage_options_for(uri, storage_options)
    best: tuple[int, int] | None = None
    for commit in DeltaTable(uri, storage_options=options).history():
        published = commit.get(META_SEQUENCE)
        if published is None or int(published) > sequence:
            continue
        if best is None or commit["version"] > best[0]:
            best = (int(commit["version"]), int(published))
    return None if best is None else best[0]
