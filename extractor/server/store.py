"""The archive's state and its change feed, in memory and thread-safe.

Timestamps are kept as integer 100-ns ticks since 0001-01-01T00:00:00Z (the .NET/SQL Server
resolution), so the 7th fractional digit that clients send and receive survives exactly; Python's
datetime would silently drop it. Everything the spec computes at read time (``state`` and
``metadata``) is computed in :meth:`DicomStore.read_feed`, never stored on the event.
"""

from __future__ import annotations

import bisect
import copy
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from extractor.sources.azure.timestamps import MAX_TICKS, MIN_TICKS, datetime_to_ticks, format_ticks

DEFAULT_PARTITION = "Microsoft.Default"

Key = tuple[str, str, str, str]  # (partition, study, series, sop)
Metadata = dict[str, Any]


class DuplicateInstanceError(Exception):
    """The (partition, study, series, sop) key already exists."""


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Event:
    """One immutable change-feed row as written; read-time fields live in FeedRow."""

    sequence: int
    key: Key
    action: str  # "Create" | "Delete" | "Update"
    ticks: int


@dataclass(frozen=True)
class FeedRow:
    """An event as read now: state and metadata reflect the archive at read time."""

    sequence: int
    partition: str
    study: str
    series: str
    sop: str
    action: str
    timestamp: str
    state: str  # "Current" | "Replaced" | "Deleted"
    metadata: Metadata | None


class DicomStore:
    """Instances keyed by (partition, study, series, sop) plus the ordered event log."""

    def __init__(self, clock: Callable[[], datetime] = _utc_now) -> None:
        # Settable: tests swap it to pin timestamps or to stage a late commit.
        self.clock = clock
        self._lock = threading.RLock()
        self._instances: dict[Key, Metadata] = {}
        self._events: list[Event] = []  # by sequence: _events[n - 1].sequence == n
        # (ticks, sequence) kept sorted so a window is two bisects, even after late commits.
        self._order: list[tuple[int, int]] = []
        self._last_sequence_of: dict[Key, int] = {}

    # -- writes -------------------------------------------------------------------------------

    def _append(self, key: Key, action: str) -> Event:
        event = Event(len(self._events) + 1, key, action, datetime_to_ticks(self.clock()))
        self._events.append(event)
        bisect.insort(self._order, (event.ticks, event.sequence))
        self._last_sequence_of[key] = event.sequence
        return event

    def add_instance(
        self, partition: str, study: str, series: str, sop: str, metadata: Metadata
    ) -> Event:
        """Store a new instance and write its Create row; an existing key is refused."""
        key = (partition, study, series, sop)
        with self._lock:
            if key in self._instances:
                raise DuplicateInstanceError(key)
            self._instances[key] = copy.deepcopy(metadata)
            return self._append(key, "Create")

    def delete(
        self, partition: str, study: str, series: str | None = None, sop: str | None = None
    ) -> list[Key]:
        """Delete every instance under the given level; one Delete row per instance."""
        with self._lock:
            doomed = [
                key
                for key in self._instances
                if key[0] == partition
                and key[1] == study
                and (series is None or key[2] == series)
                and (sop is None or key[3] == sop)
            ]
            for key in doomed:
                del self._instances[key]
                self._append(key, "Delete")
            return doomed

    def bulk_update(
        self, partition: str, studies: Iterable[str], change: Mapping[str, Any]
    ) -> list[Key]:
        """Overwrite the given attributes on every instance of each study; one Update row each."""
        wanted = set(studies)
        with self._lock:
            touched = [key for key in self._instances if key[0] == partition and key[1] in wanted]
            for key in touched:
                self._instances[key].update(copy.deepcopy(dict(change)))
                self._append(key, "Update")
            return touched

    # -- reads --------------------------------------------------------------------------------

    def metadata(self, partition: str, study: str, series: str, sop: str) -> Metadata | None:
        with self._lock:
            found = self._instances.get((partition, study, series, sop))
            return copy.deepcopy(found) if found is not None else None

    def instance_keys(self) -> list[Key]:
        with self._lock:
            return list(self._instances)

    def _row(self, event: Event, include_metadata: bool) -> FeedRow:
        current = self._instances.get(event.key)
        if current is None:
            state = "Deleted"
        elif self._last_sequence_of[event.key] == event.sequence:
            state = "Current"
        else:
            state = "Replaced"
        metadata = copy.deepcopy(current) if include_metadata and current is not None else None
        partition, study, series, sop = event.key
        return FeedRow(
            event.sequence,
            partition,
            study,
            series,
            sop,
            event.action,
            format_ticks(event.ticks),
            state,
            metadata,
        )

    def read_feed(
        self,
        start_ticks: int = MIN_TICKS,
        end_ticks: int = MAX_TICKS,
        offset: int = 0,
        limit: int = 100,
        include_metadata: bool = True,
    ) -> list[FeedRow]:
        """Rows with start <= timestamp < end, ordered by (timestamp, sequence), then paged."""
        with self._lock:
            low = bisect.bisect_left(self._order, (start_ticks, 0))
            high = bisect.bisect_left(self._order, (end_ticks, 0))
            page = self._order[low + offset : min(high, low + offset + limit)]
            return [self._row(self._events[seq - 1], include_metadata) for _, seq in page]

    def latest(self, include_metadata: bool = True) -> FeedRow | None:
        """The row with the highest sequence, or None for an empty feed."""
        with self._lock:
            return self._row(self._events[-1], include_metadata) if self._events else None
