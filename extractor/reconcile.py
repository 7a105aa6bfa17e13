"""Finding deletes on a server whose change log forgets them (Orthanc): what the landing zone says
exists, minus what the server lists, each confirmed, landed as `Delete` entries.

1. Landed as existing: per (partition, study, series, sop), the entry with the highest sequence,
   when it is not a Delete; with the source's instance id it carries (DuckDB over the Parquet).
2. The cheap check (optional): after a complete read of `/changes`, every instance on the server
   has landed, so the server's instances are a subset of those landed as existing. Equal counts
   (`/statistics` CountInstances) with no new change since the read therefore mean nothing was
   deleted, and the listing is skipped.
3. Otherwise every instance id is listed (`GET /instances`, paged), and each landed id the
   listing lacks is checked on its own (`GET /instances/{id}` answers 404): Orthanc pages by
   offset, so a delete during the listing can shift an instance out of it.
4. Deletes land in one file; their sequences are the next free numbers above everything landed,
   inside the slot of the Orthanc Seq the feed was read to (extractor.orthanc).
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import duckdb
import pyarrow as pa

from extractor.landing import landed_files, read_watermark, write_batch

log = logging.getLogger(__name__)

STATE_FILE = "orthanc-reconcile.json"


class ReconcileServer(Protocol):
    def statistics(self) -> dict[str, Any]: ...
    def changes(self, since: int, limit: int) -> dict[str, Any]: ...
    def instance_id_pages(self, page_size: int) -> Iterable[list[str]]: ...
    def instance_exists(self, instance_id: str) -> bool: ...


@dataclass
class Reconciliation:
    """What one reconciliation did."""

    mode: str  # "counts agree" (the listing was skipped) or "listed"
    landed_present: int = 0
    server_count: int | None = None
    listed: int = 0
    list_pages: int = 0
    candidates: int = 0  # landed ids the listing lacked
    still_there: int = 0  # of which the server still had (shifted out of the offset paging)
    deleted: int = 0
    not_mapped: int = 0  # landed as existing without a source instance id (another source)
    file: Path | None = None
    durations: dict[str, float] = field(default_factory=dict)


def landed_present(lake_dir: Path) -> pa.Table:
    """Instances the landing zone says exist: the latest entry per key is not a Delete.

    Columns: source_instance_id, partition_name, study_instance_uid, series_instance_uid,
    sop_instance_uid, sequence (of that latest entry).
    """
    files = landed_files(lake_dir)
    empty = pa.table(
        {
            name: pa.array([], pa.int64() if name == "sequence" else pa.string())
            for name in (
                "source_instance_id",
                "partition_name",
                "study_instance_uid",
                "series_instance_uid",
                "sop_instance_uid",
                "sequence",
            )
        }
    )
    if files is None:
        return empty
    with duckdb.connect() as connection:
        return connection.sql(
            """
            select
                arg_max(source_instance_id, sequence) as source_instance_id,
                partition_name, study_instance_uid, series_instance_uid, sop_instance_uid,
                max(sequence) as sequence
            from read_parquet(?, union_by_name = true)
            where partition_name is not null and study_instance_uid is not null
                and series_instance_uid is not null and sop_instance_uid is not null
            group by all
            having lower(arg_max(action, sequence)) != 'delete'
            """,
            params=[files],
        ).to_arrow_table()


def landed_max_sequence(lake_dir: Path) -> int:
    watermark = read_watermark(lake_dir)
    return 0 if watermark is None else watermark.sequence


def reconcile(
    lake_dir: Path,
    server: ReconcileServer,
    *,
    read_to: int,
    source: str,
    list_page_size: int,
    check_counts: bool,
    now: datetime,
) -> Reconciliation:
    """Land a Delete for every instance landed as existing that the server no longer has."""
    from extractor.orthanc import SEQUENCE_SHIFT, SEQUENCE_SLOTS, orthanc_seq

    started = time.monotonic()
    present = landed_present(lake_dir)
    ids = present.column("source_instance_id").to_pylist()
    durations = {"landed": time.monotonic() - started}
    result = Reconciliation(mode="listed", landed_present=present.num_rows, durations=durations)

    if check_counts:
        step = time.monotonic()
        count = server.statistics()["CountInstances"]
        newer = server.changes(read_to, 1)["Changes"]
        result.server_count = count
        durations["check"] = time.monotonic() - step
        if count == present.num_rows and not newer:
            result.mode = "counts agree"
            log.info(
                "reconciliation: %d instances landed and on the server: nothing deleted", count
            )
            return result

    step = time.monotonic()
    on_server: set[str] = set()
    for page in server.instance_id_pages(list_page_size):
        on_server.update(page)
        result.list_pages += 1
    result.listed = len(on_server)
    durations["list"] = time.monotonic() - step

    step = time.monotonic()
    missing = [index for index, identifier in enumerate(ids) if identifier not in on_server]
    result.not_mapped = sum(1 for index in missing if ids[index] is None)
    candidates = [index for index in missing if ids[index] is not None]
    result.candidates = len(candidates)
    gone = []
    for index in candidates:
        if server.instance_exists(ids[index]):
            result.still_there += 1
        else:
            gone.append(index)
    durations["confirm"] = time.monotonic() - step
    if result.not_mapped:
        log.warning(
            "%d instances landed as existing carry no Orthanc id (landed by another source?): "
            "they cannot be reconciled",
            result.not_mapped,
        )

    if gone:
        step = time.monotonic()
        highest = landed_max_sequence(lake_dir)
        base = max(read_to, orthanc_seq(highest))
        first = max(base << SEQUENCE_SHIFT, highest) + 1
        room = ((base + 1) << SEQUENCE_SHIFT) - first
        if len(gone) > room:
            log.warning(
                "%d deletes found, room for %d at Orthanc Seq %d: the rest land once Orthanc "
                "records a new change",
                len(gone),
                room,
                base,
            )
            gone = gone[: max(room, 0)]
        assert room <= SEQUENCE_SLOTS
        keys = (
            present.select(
                ["partition_name", "study_instance_uid", "series_instance_uid", "sop_instance_uid"]
            )
            .take(gone)
            .to_pylist()
        )
        rows = [
            {
                **key,
                "sequence": first + offset,
                "timestamp": now,
                "action": "Delete",
                "state": "Deleted",
                "file_path": None,
                "metadata": None,
                "extracted_at": now,
                "source": source,
                "source_instance_id": ids[index],
            }
            for offset, (index, key) in enumerate(zip(gone, keys, strict=True))
        ]
        result.file = write_batch(lake_dir, rows)
        result.deleted = len(rows)
        durations["land"] = time.monotonic() - step
        log.info("reconciliation: landed %d deletes", len(rows))
    return result


# -- every N runs ----------------------------------------------------------------------------
# Not correctness state: losing the file only makes the next run reconcile.


def _state_path(lake_dir: Path) -> Path:
    return lake_dir / "landing" / STATE_FILE


def reconciliation_due(lake_dir: Path, every: int) -> bool:
    """Whether this run reconciles: every `every` runs (0: never); a lake without the file: yes."""
    if every <= 0:
        return False
    try:
        runs = int(json.loads(_state_path(lake_dir).read_text())["runs_since_reconciliation"])
    except (OSError, ValueError, KeyError, TypeError):
        return True
    return runs + 1 >= every


def record_reconciliation(lake_dir: Path, *, reconciled: bool) -> None:
    path = _state_path(lake_dir)
    runs = 0
    if not reconciled:
        try:
            runs = int(json.loads(path.read_text())["runs_since_reconciliation"]) + 1
        except (OSError, ValueError, KeyError, TypeError):
            runs = 1
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(json.dumps({"runs_since_reconciliation": runs}) + "\n")
    os.replace(temporary, path)
