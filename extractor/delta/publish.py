"""Publish the dbt marts as Delta Lake tables for Fabric, Spark, Databricks, DuckDB and Polars.

Each publication commits at most one version per table (one MERGE of its upserts and deletes,
changes.py), recording the watermark it reflects (commits.py). A table that does not exist yet is
created clustered by key (create.py). Nothing to merge and the same watermark: nothing is
committed. A table interrupted behind the others catches up on the next run.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset
from deltalake import DeltaTable, write_deltalake

from extractor.delta.changes import (
    DELETE_FLAG,
    changed_rows,
    merge_source,
    note_unpublished_events,
    pruning_predicate,
    published_keys_of_touched_studies,
)
from extractor.delta.commits import publication_commit, published_sequence
from extractor.delta.create import DEFAULT_TARGET_FILE_SIZE, create_table
from extractor.delta.schema import TABLE_KEYS, TABLES, check_keys, export_list, mart_columns
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
    lake = Lake(lake_dir)
    uri = resolve_delta_uri(lake.root, delta_uri)
    # Scratch runs of a creation killed half-way (publications never overlap: the run lock)
    for stale in lake.scratch_dirs():
        shutil.rmtree(stale, ignore_errors=True)
    if watermark is None:
        watermark = LandingZone(lake).watermark()
        if watermark is None:
            raise ValueError(f"nothing has landed under {lake.root}: no watermark to publish")
    options = storage_options_for(uri, storage_options)
    result = PublishResult(watermark=watermark, delta_uri=uri)
    with duckdb.connect(str(lake.warehouse), read_only=True) as connection:
        # Arrow timestamps with time zone come out in the session zone: make it UTC for Delta.
        connection.execute("set TimeZone = 'UTC'")
        connection.execute(f"set memory_limit = '{_DUCKDB_MEMORY_LIMIT}'")
        note_unpublished_events(connection, delta_table_uri(uri, "instance_history"), options)
        for table in tables:
            publication = _publish_table(
                connection,
                table,
                delta_table_uri(uri, table),
                watermark,
                options,
                partition_by_partition_name=partition_by_partition_name,
                full_refresh=full_refresh,
                target_file_size=target_file_size,
                scratch_root=lake.root,
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
    columns = mart_columns(connection, table)
    check_keys(connection, table, keys)
    select_list = export_list(columns)
    commit = publication_commit(table, watermark)

    if not DeltaTable.is_deltatable(uri, storage_options=options):
        rows = connection.sql(f"select count(*) from main.{table}").fetchall()[0][0]
        version = create_table(
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
        return TablePublication(table, uri, version, None, upserted=rows, created=True)

    delta = DeltaTable(uri, storage_options=options)
    previous = published_sequence(delta)
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
        upserts, params = changed_rows(connection, table, select_list, previous)
        published = published_keys_of_touched_studies(connection, delta, keys)
    connection.register("delta_keys", published)
    try:
        source = merge_source(connection, table, keys, upserts, params)
    finally:
        connection.unregister("delta_keys")
    deleted = source.filter(pc.field(DELETE_FLAG)).num_rows
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
            [f"target.{key} = source.{key}" for key in keys] + [pruning_predicate(source)]
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
            .when_matched_delete(f"source.{DELETE_FLAG}")
            .when_matched_update_all(f"not source.{DELETE_FLAG}", except_cols=[DELETE_FLAG])
            .when_not_matched_insert_all(f"not source.{DELETE_FLAG}", except_cols=[DELETE_FLAG])
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
