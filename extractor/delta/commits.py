"""What each Delta commit says of the feed, and reading a table "as of sequence N".

Every publication records the watermark its rows reflect twice: as a Delta `txn` action (app id
`dicom-lake-publish`, its version the watermark's sequence: the table's *published sequence*),
which lives in the snapshot and checkpoints so reading it back is cheap, and as commit metadata
(`dicom_lake.watermark_sequence`, `dicom_lake.watermark_timestamp`) that `DESCRIBE HISTORY` and
`DeltaTable.history()` show, so readers can align the four tables.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from deltalake import CommitProperties, DeltaTable, Transaction

from extractor.delta.storage import storage_options_for
from extractor.sources import Watermark

APP_ID = "dicom-lake-publish"
META_SEQUENCE = "dicom_lake.watermark_sequence"
META_TIMESTAMP = "dicom_lake.watermark_timestamp"
META_TABLE = "dicom_lake.table"


def published_sequence(delta: DeltaTable) -> int | None:
    """The feed sequence the table's rows reflect, as its last publication recorded it."""
    return delta.transaction_version(APP_ID)


def publication_commit(table: str, watermark: Watermark) -> CommitProperties:
    """The commit of a publication: its watermark as metadata and as the published sequence."""
    return CommitProperties(
        custom_metadata={
            META_SEQUENCE: watermark.sequence,
            META_TIMESTAMP: _utc_iso(watermark.timestamp),
            META_TABLE: table,
        },
        app_transactions=[Transaction(APP_ID, watermark.sequence)],
    )


def upkeep_commit(table: str, delta: DeltaTable) -> CommitProperties:
    """The commit of a compaction or vacuum: it changes no row, so it reflects the same point.

    Saying so lets "as of sequence N" readers pick these versions like any publication.
    """
    metadata: dict[str, Any] = {META_TABLE: table}
    sequence = published_sequence(delta)
    if sequence is not None:
        metadata[META_SEQUENCE] = sequence
        timestamp = _published_timestamp(delta)
        if timestamp is not None:
            metadata[META_TIMESTAMP] = timestamp
    return CommitProperties(custom_metadata=metadata)


def _published_timestamp(delta: DeltaTable) -> str | None:
    for commit in delta.history(limit=20):
        if META_TIMESTAMP in commit:
            return str(commit[META_TIMESTAMP])
    return None


def _utc_iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat()


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
