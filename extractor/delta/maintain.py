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

from deltalake import DeltaTable

from extractor.delta.commits import upkeep_commit
from extractor.delta.files import table_codec, writer_properties
from extractor.delta.schema import ADF_TABLES, TABLES
from extractor.delta.storage import storage_options_for
from extractor.lake import delta_table_uri

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
    tables: Iterable[str] | None = None,
    target_file_size: int | None = None,
) -> list[MaintenanceReport]:
    """Compact then vacuum each published table under `delta_uri`; missing tables are skipped.

    By default the marts' tables, and the ADF template's where they were published.
    """
    if tables is None:
        tables = (*TABLES, *(adf.name for adf in ADF_TABLES.values()))
    reports = []
    for table in tables:
        uri = delta_table_uri(delta_uri, table)
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
    commit = upkeep_commit(table, delta)
    metrics = delta.optimize.compact(
        target_size=target_file_size,
        writer_properties=writer_properties(table_codec(delta)),
        commit_properties=commit,
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
            commit_properties=commit,
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
