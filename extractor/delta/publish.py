"""Publish the dbt marts as Delta Lake tables for Fabric, Spark, Databricks, DuckDB and Polars.

Each publication commits at most one version per table (one MERGE of its upserts and deletes,
changes.py), recording the watermark it reflects (commits.py); a new column that needs a table
feature gets it in a commit of its own first (features.py). A table that does not exist yet is
created clustered by key (create.py). Nothing to merge and the same watermark: nothing is
committed. A table interrupted behind the others catches up on the next run.

With `adf_tables`, each mart the ADF template had (instance, series, study) is followed by its
ADF-compatible table (`<delta>/adf/<table>`), which takes over the keys the mart's MERGE changed.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset
from deltalake import DeltaTable, write_deltalake

from extractor.build.freshness import forget, is_up_to_date, record, warehouse_state
from extractor.delta.changes import (
    DELETE_FLAG,
    changed_rows,
    changes_of_leader,
    key_mismatch,
    merge_source,
    note_unpublished_events,
    pruning_predicate,
    published_keys_of_touched_studies,
    published_row_count,
    unregister_leader,
)
from extractor.delta.commits import publication_commit, published_sequence, upkeep_commit
from extractor.delta.create import create_table
from extractor.delta.features import add_missing_features
from extractor.delta.files import (
    creation_codec,
    default_target_file_size,
    table_codec,
    writer_properties,
)
from extractor.delta.schema import (
    ADF_TABLES,
    NATIVE_TABLES,
    TABLES,
    DeltaProfile,
    PublishedTable,
    check_keys,
    export_list,
    mart_columns,
    profile_mismatch,
    quote,
)
from extractor.delta.storage import resolve_delta_uri, storage_options_for
from extractor.lake import Lake, delta_table_uri
from extractor.landing import LandingZone
from extractor.sources import Watermark

log = logging.getLogger(__name__)


# DuckDB's share of the publication's memory (it spills past it); delta-rs needs the rest
_DUCKDB_MEMORY_LIMIT = "1GB"


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
    added_features: tuple[str, ...] = ()

    @property
    def committed(self) -> bool:
        return self.version is not None


@dataclass(frozen=True)
class _Settings:
    """What every table of one publication is published with."""

    watermark: Watermark
    options: dict[str, str]
    profile: DeltaProfile
    partition_by_partition_name: bool
    full_refresh: bool
    target_file_size: int


@dataclass(frozen=True)
class _Leader:
    """A native mart's publication, for the table that follows it."""

    publication: TablePublication
    source: pa.Table | None  # its merge source; None when it compared nothing (created, skipped)


@dataclass(frozen=True)
class PublishResult:
    watermark: Watermark
    delta_uri: str
    tables: list[TablePublication] = field(default_factory=list)
    up_to_date: bool = False
    """True when nothing changed since the last successful publication to this location (the
    marts, the watermark, the settings and every table's version), which was not run again."""

    @property
    def committed(self) -> bool:
        return any(table.committed for table in self.tables)


def publish(
    lake_dir: Path,
    delta_uri: str | None = None,
    *,
    watermark: Watermark | None = None,
    storage_options: Mapping[str, str] | None = None,
    partition_by_partition_name: bool = False,
    full_refresh: bool = False,
    tables: Iterable[str] = TABLES,
    target_file_size: int | None = None,
    profile: DeltaProfile = DeltaProfile.standard,
    adf_tables: bool = False,
    force: bool = False,
) -> PublishResult:
    """Publish the marts of `<lake>/warehouse.duckdb` to `<delta_uri>/<table>`.

    `watermark` is the point of the change feed the marts reflect (defaults to what has landed).
    `partition_by_partition_name`, `target_file_size` (compressed bytes; by default the codec's,
    files.py) and `profile` (schema.py) apply when a table is created; later runs keep its
    layout, and refuse another profile.
    `full_refresh` re-merges every row (after a change of model logic that moved no sequence).
    `adf_tables` also publishes the ADF template's tables under `<delta_uri>/adf/`.
    A publication with the same marts, watermark, settings and table versions as the last
    successful one is skipped (the result says `up_to_date`) unless `force` or `full_refresh`.
    """
    lake = Lake(lake_dir)
    uri = resolve_delta_uri(lake.root, delta_uri)
    if watermark is None:
        watermark = LandingZone(lake).watermark()
        if watermark is None:
            raise ValueError(f"nothing has landed under {lake.root}: no watermark to publish")
    options = storage_options_for(uri, storage_options)
    settings = _Settings(
        watermark=watermark,
        options=options,
        profile=DeltaProfile(profile),
        partition_by_partition_name=partition_by_partition_name,
        full_refresh=full_refresh,
        target_file_size=target_file_size
        or default_target_file_size(creation_codec(DeltaProfile(profile))),
    )
    names = list(tables)
    published = [NATIVE_TABLES[name] for name in names]
    published += [ADF_TABLES[name] for name in names if adf_tables and name in ADF_TABLES]
    inputs = _publication_inputs(uri, published, settings)
    fresh = is_up_to_date(lake.publication_stamp, inputs, warehouse_state(lake))
    if fresh and not (force or full_refresh):
        log.info("publication up to date: nothing changed since the last one")
        return PublishResult(watermark=watermark, delta_uri=uri, up_to_date=True)
    forget(lake.publication_stamp)
    result = PublishResult(watermark=watermark, delta_uri=uri)
    with duckdb.connect(str(lake.warehouse), read_only=True) as connection:
        # Arrow timestamps with time zone come out in the session zone: make it UTC for Delta.
        connection.execute("set TimeZone = 'UTC'")
        connection.execute(f"set memory_limit = '{_DUCKDB_MEMORY_LIMIT}'")
        note_unpublished_events(connection, delta_table_uri(uri, "instance_history"), options)
        for table in names:
            native, source = _publish_table(connection, NATIVE_TABLES[table], uri, settings)
            result.tables.append(native)
            _log(native)
            if adf_tables and table in ADF_TABLES:
                leader = _Leader(native, source)
                followed, _ = _publish_table(connection, ADF_TABLES[table], uri, settings, leader)
                result.tables.append(followed)
                _log(followed)
    after = _publication_inputs(uri, published, settings)
    record(lake.publication_stamp, after, warehouse_state(lake))
    return result


def _publication_inputs(uri: str, tables: list[PublishedTable], settings: _Settings) -> str:
    """What a publication depends on besides the marts: where, what, how, the watermark, and
    each table's current version (a commit by anyone else, `maintain` included, runs it)."""
    versions = {}
    for table in tables:
        table_uri = delta_table_uri(uri, table.name)
        exists = DeltaTable.is_deltatable(table_uri, storage_options=settings.options)
        versions[table.name] = (
            DeltaTable(table_uri, storage_options=settings.options).version() if exists else -1
        )
    described = {
        "uri": uri,
        "versions": versions,
        "watermark": [settings.watermark.sequence, settings.watermark.timestamp.isoformat()],
        "profile": str(settings.profile),
        "partition_by_partition_name": settings.partition_by_partition_name,
        "target_file_size": settings.target_file_size,
    }
    return hashlib.sha256(json.dumps(described, sort_keys=True).encode()).hexdigest()


class PublicationMismatch(RuntimeError):
    """A Delta table's keys differ from its mart's after a publication: a defect to report."""


def _check_published_keys(
    connection: duckdb.DuckDBPyConnection, table: PublishedTable, delta: DeltaTable, uri: str
) -> None:
    """Fail when the table does not hold as many rows as its mart, naming the keys that differ.

    The counts cost nothing (the log's statistics, a count of the mart), so every commit is
    checked without reading a data file; the keys are compared only to say what differs.
    """
    built = connection.sql(f"select count(*) from main.{table.mart}").fetchall()[0][0]
    published = published_row_count(delta)
    if published == built:
        return
    found = key_mismatch(connection, table, delta)
    raise PublicationMismatch(
        f"{uri} does not hold its mart's rows after publishing: {published} row(s) against"
        f" {built} in main.{table.mart}; {found.extra} key(s) the mart lacks,"
        f" {found.missing} of its key(s) missing, {found.repeated} row(s) repeating a key;"
        " publish with --full-refresh to repair it, and report this"
    )


def _log(publication: TablePublication) -> None:
    log.info(
        "published %s: version %s, %d upserted, %d deleted",
        publication.table,
        publication.version,
        publication.upserted,
        publication.deleted,
    )


def _publish_table(
    connection: duckdb.DuckDBPyConnection,
    table: PublishedTable,
    delta_uri: str,
    settings: _Settings,
    leader: _Leader | None = None,
) -> tuple[TablePublication, pa.Table | None]:
    """Publish one table; returns what it did and its merge source (None if it made none)."""
    uri = delta_table_uri(delta_uri, table.name)
    options, watermark = settings.options, settings.watermark
    profile = settings.profile if table.profiled else DeltaProfile.standard
    columns = mart_columns(connection, table.mart)
    check_keys(connection, table.mart, table.keys)
    select_list = export_list(columns, profile)
    commit = publication_commit(table.name, watermark)

    if not DeltaTable.is_deltatable(uri, storage_options=options):
        rows = connection.sql(f"select count(*) from main.{table.mart}").fetchall()[0][0]
        version = create_table(
            connection,
            table,
            uri,
            select_list,
            options,
            commit,
            partition_by_partition_name=settings.partition_by_partition_name,
            target_file_size=settings.target_file_size,
            codec=creation_codec(settings.profile),
        )
        return TablePublication(table.name, uri, version, None, upserted=rows, created=True), None

    delta = DeltaTable(uri, storage_options=options)
    published_schema = pa.schema(delta.schema().to_arrow())
    _check_profile(published_schema, uri, profile)
    previous = published_sequence(delta)
    existing = set(published_schema.names)
    schema = connection.sql(f"select {select_list} from main.{table.mart} limit 0").arrow().schema
    added = tuple(name for name in schema.names if name not in existing)
    if previous is not None and previous > watermark.sequence:
        log.warning(
            "%s already reflects sequence %d, past the marts' %d: left as it is",
            uri,
            previous,
            watermark.sequence,
        )
        return TablePublication(table.name, uri, None, previous), None
    features: tuple[str, ...] = ()
    if added:
        features = add_missing_features(delta, schema, upkeep_commit(table.name, delta))
        if features:
            delta = DeltaTable(uri, storage_options=options)

    source = _merge_source(connection, table, delta, select_list, previous, settings, leader, added)
    deleted = source.filter(pc.field(DELETE_FLAG)).num_rows
    upserted = source.num_rows - deleted
    if source.num_rows == 0 and previous == watermark.sequence and not added:
        # Nothing changed and the feed did not move: publishing twice commits nothing.
        return TablePublication(table.name, uri, None, previous), source

    if source.num_rows == 0:
        # No row changed, yet the feed moved on (or a column was added to no row): an empty
        # commit records the new watermark so that all four tables carry it.
        write_deltalake(
            delta,
            schema.empty_table(),
            mode="append",
            schema_mode="merge" if added else None,
            commit_properties=commit,
        )
    else:
        predicate = " and ".join(
            [f"target.{quote(key)} = source.{quote(key)}" for key in table.keys]
            + [pruning_predicate(source, table.study[1])]
        )
        (
            delta.merge(
                source,
                predicate,
                source_alias="source",
                target_alias="target",
                merge_schema=bool(added),
                writer_properties=writer_properties(table_codec(delta)),
                commit_properties=commit,
            )
            .when_matched_delete(f"source.{DELETE_FLAG}")
            .when_matched_update_all(f"not source.{DELETE_FLAG}", except_cols=[DELETE_FLAG])
            .when_not_matched_insert_all(f"not source.{DELETE_FLAG}", except_cols=[DELETE_FLAG])
            .execute()
        )
    delta = DeltaTable(uri, storage_options=options)
    _check_published_keys(connection, table, delta, uri)
    publication = TablePublication(
        table.name,
        uri,
        delta.version(),
        previous,
        upserted=upserted,
        deleted=deleted,
        added_columns=added,
        added_features=features,
    )
    return publication, source


def _merge_source(
    connection: duckdb.DuckDBPyConnection,
    table: PublishedTable,
    delta: DeltaTable,
    select_list: str,
    previous: int | None,
    settings: _Settings,
    leader: _Leader | None,
    added: tuple[str, ...],
) -> pa.Table:
    """The rows to upsert and the keys to delete (flagged), in one table for one MERGE.

    Every row and every published key are compared after a full refresh, a new column, on a
    table without a published sequence, and on a follower that is not where its leader was.
    """
    compare_all = settings.full_refresh or bool(added) or previous is None
    if leader is not None:
        compare_all = compare_all or (
            leader.source is None or leader.publication.previous_sequence != previous
        )
    params: list[Any] = []
    published: pyarrow.dataset.Dataset | pa.Table
    if compare_all:
        upserts = f"select {select_list} from main.{table.mart}"
        published = delta.to_pyarrow_dataset()
    elif leader is not None and leader.source is not None:
        upserts, published = changes_of_leader(connection, table, select_list, leader.source)
    else:
        assert previous is not None
        upserts, params = changed_rows(connection, table.mart, select_list, previous)
        published = published_keys_of_touched_studies(connection, delta, table.keys)
    connection.register("delta_keys", published)
    try:
        return merge_source(connection, table.mart, table.keys, upserts, params)
    finally:
        connection.unregister("delta_keys")
        if leader is not None and not compare_all:
            unregister_leader(connection)


def _check_profile(schema: pa.Schema, uri: str, profile: DeltaProfile) -> None:
    created_with = profile_mismatch(schema, profile)
    if created_with is not None:
        raise ValueError(
            f"{uri} was created with the {created_with} Delta profile, not {profile}: publish "
            "with that profile, or to another Delta URI (a table's types cannot change in place)"
        )
