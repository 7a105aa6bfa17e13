"""Upkeep of the published Delta tables: compact small files, vacuum files of old versions.

Each publication's MERGE writes a few small files; compaction folds them together so readers
open fewer files. Vacuum then deletes files that no version within the retention period needs:
time travel ("the lake as of sequence N") reaches back as far as that period and no further.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from deltalake import CommitProperties, DeltaTable

from extractor.publish import (
    APP_ID,
    META_SEQUENCE,
    META_TABLE,
    META_TIMESTAMP,
    TABLES,
    storage_options_for,
    table_uri,
)

log = logging.getLogger(__name__)

# Like the ADF template's 720 hours.
DEFAULT_RETENTION_HOURS = 720


@dataclass(frozen=True)
class MaintenanceReport:
    table: str
    files_added: int
    files_removed: int
    vacuumed: list[str]


def maintain(
    delta_uri: str,
    retention_hours: int = DEFAULT_RETENTION_HOURS,
    *,
    storage_options: Mapping[str, str] | None = None,
    tables: Iterable[str] = TABLES,
    target_file_size: int | None = None,
) -> list[MaintenanceReport]:
    """Compact then vacuum each published table under `delta_uri`; missing tables are skipped."""
    reports = []
    for table in tables:
        uri = table_uri(delta_uri, table)
        options = storage_options_for(uri, storage_options)
        if not DeltaTable.is_deltatable(uri, storage_options=options):
            log.info("%s is not published yet: nothing to maintain", uri)
            continue
        reports.append(_maintain_table(table, uri, options, retention_hours, target_file_size))
    return reports


def _maintain_table(
    table: str,
    uri: str,
    options: dict[str, str],
    retention_hours: int,
    target_file_size: int | None,
) -> MaintenanceReport:
    delta = DeltaTable(uri, storage_options=options)
    sequence = delta.transaction_version(APP_ID)
    # Compaction and vacuum change no row: their versions reflect the same point of the feed,
    # and saying so lets "as of sequence N" readers pick them like any publication.
    metadata: dict[str, Any] = {META_TABLE: table}
    if sequence is not None:
        metadata[META_SEQUENCE] = sequence
        timestamp = _published_timestamp(delta)
        if timestamp is not None:
            metadata[META_TIMESTAMP] = timestamp
    metrics = delta.optimize.compact(
        target_size=target_file_size,
        commit_properties=CommitProperties(custom_metadata=metadata),
    )
    vacuum_options: dict[str, Any] = {
        "retention_hours": retention_hours,
        # The retention is ours to choose (tests use 0); the table default is one week.
        "enforce_retention_duration": False,
    }
    # A vacuum commits two versions even when it deletes nothing: skip it when no removed file
    # is old enough yet (the usual case with the default retention).
    vacuumed: list[str] = []
    if delta.vacuum(dry_run=True, **vacuum_options):
        vacuumed = delta.vacuum(
            dry_run=False,
            commit_properties=CommitProperties(custom_metadata=metadata),
            **vacuum_options,
        )
    log.info(
        "maintained %s: %d files compacted into %d, %d vacuumed",
        table,
        metrics["numFilesRemoved"],
        metrics["numFilesAdded"],
        len(vacuumed),
    )
    return MaintenanceReport(
        table=table,
        files_added=int(metrics["numFilesAdded"]),
        files_removed=int(metrics["numFilesRemoved"]),
        vacuumed=list(vacuumed),
    )


def _published_timestamp(delta: DeltaTable) -> str | None:
    for commit in delta.history(limit=20):
        if META_TIMESTAMP in commit:
            return str(commit[META_TIMESTAMP])
    return None
