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
   inside the slot of the Orthanc Seq the feed was read to (sequences.py beside this file).
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

from extractor.sources.contract import Batches
from extractor.sources.orthanc.sequences import (
    SEQUENCE_SLOTS,
    free_delete_sequences,
    orthanc_seq,
)

log = logging.getLogger(__name__)


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


def reconcile(
    server: ReconcileServer,
    batches: Batches,
    *,
    read_to: int,
    source: str,
    list_page_size: int,
    check_counts: bool,
    now: datetime,
) -> Reconciliation:
    """Land a Delete for every instance landed as existing that the server no longer has.

    The deletes land through `batches` (after this run's new instances), in a file of their own.
    """
    landing = batches.landing
    started = time.monotonic()
    present = landing.present_instances()
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
        landed = landing.watermark()
        highest = landed.sequence if landed is not None else 0
        free = free_delete_sequences(highest, read_to)
        if len(gone) > len(free):
            log.warning(
                "%d deletes found, room for %d at Orthanc Seq %d: the rest land once Orthanc "
                "records a new change",
                len(gone),
                len(free),
                orthanc_seq(free.stop) - 1,
            )
            gone = gone[: len(free)]
        assert len(free) <= SEQUENCE_SLOTS
        keys = (
            present.select(
                [
                    "partition_name",
                    "study_instance_uid",
                    "series_instance_uid",
                    "sop_instance_uid",
                    # the keys as landed: the landing's policy is not applied to them again
                    "protected_with",
                ]
            )
            .take(gone)
            .to_pylist()
        )
        rows = [
            {
                **key,
                "sequence": free[offset],
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
        result.file = batches.land(rows)
        result.deleted = len(rows)
        durations["land"] = time.monotonic() - step
        log.info("reconciliation: landed %d deletes", len(rows))
    return result


# -- every N runs ----------------------------------------------------------------------------
# Not correctness state: losing the file only makes the next run reconcile.


def reconciliation_due(state: Path, every: int) -> bool:
    """Whether this run reconciles: every `every` runs (0: never); a lake without the file: yes."""
    if every <= 0:
        return False
    runs = _runs_since_reconciliation(state)
    return runs is None or runs + 1 >= every


def record_reconciliation(state: Path, *, reconciled: bool) -> None:
    runs = 0
    if not reconciled:
        runs = (_runs_since_reconciliation(state) or 0) + 1
    state.parent.mkdir(parents=True, exist_ok=True)
    temporary = state.with_name(f".{state.name}.tmp")
    temporary.write_text(json.dumps({"runs_since_reconciliation": runs}) + "\n")
    os.replace(temporary, state)


def _runs_since_reconciliation(state: Path) -> int | None:
    try:
        return int(json.loads(state.read_text())["runs_since_reconciliation"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
