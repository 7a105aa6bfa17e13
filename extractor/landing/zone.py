"""The landing zone of one lake: what sources land into, and what is read back from it.

The watermark is read back from what has landed, so a crash can never leave a bookmark ahead of
the data. Reads go through DuckDB over the Parquet files; `union_by_name` lets files landed before
a column existed (`source_instance_id`) read beside newer ones.

Given a privacy policy (`dicom-lake extract --protect-at-landing`), the zone applies it to every
entry before it is written, so identifiers never reach the lake (docs/privacy.md).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from extractor.lake import Lake
from extractor.landing.files import write_batch
from extractor.landing.quarantine import quarantine_damaged, quarantined_ranges
from extractor.privacy import Policy
from extractor.privacy.documents import UID_COLUMNS, protect_document, protect_path, protect_uid
from extractor.sources.contract import IDENTITY, Row, Watermark, dated_past_window, identity

log = logging.getLogger(__name__)

# Instances whose latest landed entry is not a Delete, with the source's id of the entry.
_PRESENT_INSTANCES = """
    select
        arg_max(source_instance_id, sequence) as source_instance_id,
        partition_name, study_instance_uid, series_instance_uid, sop_instance_uid,
        max(sequence) as sequence,
        arg_max(protected_with, sequence) as protected_with
    from (
        from read_parquet(?, union_by_name = true)
        union all by name
        select null::varchar as protected_with where false
    )
    where partition_name is not null and study_instance_uid is not null
        and series_instance_uid is not null and sop_instance_uid is not null
    group by all
    having lower(arg_max(action, sequence)) != 'delete'
"""
# The rule of extractor.sources.contract.dated_past_window, below a sequence. The empty relation
# adds window_end for lakes whose files all predate the column (as protected_with above).
_WATERMARK = """
    select max(sequence), max(timestamp)
    from (
        from read_parquet(?, union_by_name = true)
        union all by name
        select null::timestamptz as window_end where false
    )
    where (window_end is null or timestamp < window_end) and sequence < ?
"""
_NO_LIMIT = 2**63 - 1
_PRESENT_COLUMNS = (
    "source_instance_id",
    "partition_name",
    "study_instance_uid",
    "series_instance_uid",
    "sop_instance_uid",
)


class LandingZone:
    """`<lake>/landing/`: the landed change feed (extractor.sources.contract.LandingZone)."""

    def __init__(self, lake: Lake | Path, policy: Policy | None = None) -> None:
        self.lake = lake if isinstance(lake, Lake) else Lake(lake)
        self.policy = policy
        """The privacy policy applied to what lands, if any."""
        self._watermark: Watermark | None = None
        self._watermark_read = False
        self._checked = False

    @property
    def reconcile_state(self) -> Path:
        return self.lake.reconcile_state

    def land(self, rows: Iterable[Row]) -> Path | None:
        """Land rows as one new file; the watermark moves past those it trusts."""
        rows = [self.protected(row) for row in rows]
        watermark = self.watermark()
        path = write_batch(self.lake, rows)
        trusted = [row for row in rows if not dated_past_window(row)]
        if path is not None and trusted:
            first = Watermark(int(trusted[0]["sequence"]), trusted[0]["timestamp"])
            self._watermark = (watermark or first).after(trusted)
        return path

    def protected(self, row: Row, *, documents: bool = True) -> Row:
        """The row as it lands: its UIDs, path and (with `documents`) metadata under the policy.

        A row that says how it was protected (`protected_with`: a delete made from landed keys)
        lands as it is.
        """
        policy = self.policy
        if policy is None or "protected_with" in row:
            return row
        protected = {
            column: protect_uid(row.get(column), tag, policy) for column, tag in UID_COLUMNS.items()
        }
        protected["file_path"] = protect_path(row.get("file_path"), policy)
        if documents and row.get("metadata") is not None:
            protected["metadata"] = protect_document(str(row["metadata"]), policy)
            if protected["metadata"] is None:
                log.warning(
                    "sequence %s: its metadata is not a JSON object, so it cannot be protected; "
                    "it lands without metadata",
                    row.get("sequence"),
                )
        return {**row, **protected, "protected_with": policy.fingerprint}

    def identity(self, row: Row) -> tuple[Any, ...]:
        """The row's identity as landed (contract.identity, its UIDs under the policy)."""
        return identity(self.protected(row, documents=False))

    def files(self) -> str | None:
        """The glob of the landed Parquet files, for read_parquet; None while nothing has landed.

        Unreadable files are moved to the quarantine first (extractor.landing.quarantine).
        """
        self.set_aside_damaged()
        if not any(self.lake.changefeed.glob("*.parquet")):
            return None
        return self.lake.changefeed_glob

    def set_aside_damaged(self) -> None:
        """Move unreadable landed files to the quarantine, once per LandingZone (per run)."""
        if not self._checked:
            quarantine_damaged(self.lake)
            self._checked = True

    def watermark(self) -> Watermark | None:
        """The highest sequence and the latest timestamp that have landed, or None.

        Read from the files once; after that it moves with what this object lands (a lake has
        one writer at a time: the run lock).
        """
        if not self._watermark_read:
            self._watermark = self._read_watermark()
            self._watermark_read = True
        return self._watermark

    def _read_watermark(self) -> Watermark | None:
        files = self.files()
        if files is None:
            return None
        with duckdb.connect() as connection:
            below = self._first_missing_quarantined(connection, files)
            row = connection.execute(_WATERMARK, [files, below]).fetchone()
        if row is None or row[0] is None:
            return None
        return Watermark(sequence=row[0], timestamp=row[1])

    def _first_missing_quarantined(self, connection: duckdb.DuckDBPyConnection, files: str) -> int:
        """The first sequence of the earliest quarantined file not landed again (else no limit)."""
        for first, last in quarantined_ranges(self.lake):
            landed = connection.execute(
                "select count(distinct sequence) from read_parquet(?) where sequence in (?, ?)",
                [files, first, last],
            ).fetchone()
            if landed is None or landed[0] < len({first, last}):
                log.warning(
                    "the entries of a quarantined landing file (sequence %d to %d) have not "
                    "landed again: the feed is read from before them",
                    first,
                    last,
                )
                return first
        return _NO_LIMIT

    def landed_since(self, since: datetime) -> dict[int, tuple[Any, ...]]:
        """Entries landed with a timestamp at or after `since` (the overlap to dedupe): sequence
        -> the entry's identity (contract.IDENTITY), to tell a re-read from a conflicting copy."""
        files = self.files()
        if files is None:
            return {}
        identity = ", ".join(IDENTITY)
        with duckdb.connect() as connection:
            rows = connection.execute(
                f"select sequence, {identity} from read_parquet(?) where timestamp >= ?",
                [files, since],
            ).fetchall()
        return {sequence: tuple(rest) for sequence, *rest in rows}

    def present_instances(self) -> pa.Table:
        """Instances the landing zone says exist: the latest entry per key is not a Delete.

        Columns: source_instance_id, partition_name, study_instance_uid, series_instance_uid,
        sop_instance_uid, sequence and protected_with (of that latest entry).
        """
        files = self.files()
        if files is None:
            columns = {name: pa.array([], pa.string()) for name in _PRESENT_COLUMNS}
            return pa.table(
                {
                    **columns,
                    "sequence": pa.array([], pa.int64()),
                    "protected_with": pa.array([], pa.string()),
                }
            )
        with duckdb.connect() as connection:
            return connection.sql(_PRESENT_INSTANCES, params=[files]).to_arrow_table()
