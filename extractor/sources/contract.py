"""What every source shares: the feed position, the landing zone as a source sees it, and what
one extract returns.

A source reads its server and hands rows in the landing zone's column names to `Batches`,
which lands them a file at a time through a `LandingZone` (extractor.landing.LandingZone is the
real one; the job passes it in, so no source imports the stages after it).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa

log = logging.getLogger(__name__)

Row = Mapping[str, Any]
"""One entry in the landing zone's column names (extractor.landing.LANDING_SCHEMA)."""

FEED_BEGINNING = datetime(1, 1, 1, tzinfo=UTC)
"""Where a first read of a feed starts unless told otherwise."""

IDENTITY = (
    "timestamp",
    "action",
    "partition_name",
    "study_instance_uid",
    "series_instance_uid",
    "sop_instance_uid",
)
"""What an entry is, whenever it is read: its metadata and state change with the archive, these
never do. A sequence read again with another identity is a conflicting copy, not a re-read."""


def identity(row: Row) -> tuple[Any, ...]:
    return tuple(row[column] for column in IDENTITY)


OnPage = Callable[[int, int], None]
"""Called after every page with (entries on the page, of which new)."""


@dataclass(frozen=True)
class Watermark:
    """The feed position: the highest sequence and the latest timestamp that have landed."""

    sequence: int
    timestamp: datetime

    def after(self, rows: Sequence[Row]) -> Watermark:
        """This position moved past `rows`."""
        return Watermark(
            sequence=max([self.sequence, *(int(row["sequence"]) for row in rows)]),
            timestamp=max([self.timestamp, *(row["timestamp"] for row in rows)]),
        )


def some_sequences(sequences: Sequence[object], shown: int = 10) -> str:
    """Sequences for a log line: the first `shown`, then how many more there are."""
    listed = ", ".join(str(sequence) for sequence in sequences[:shown])
    more = len(sequences) - shown
    return f"{listed} and {more} more" if more > 0 else listed


def dated_past_window(row: Row) -> bool:
    """Whether the entry is dated at or after the end of the window it was read in.

    A server returned what it was not asked for (a bug, a clock jump): trusting its timestamp as
    the feed position would start every later window after it, in 2099 say, and read nothing.
    """
    window_end = row.get("window_end")
    return window_end is not None and row["timestamp"] >= window_end


class LandingZone(Protocol):
    """The landing zone as a source uses it."""

    @property
    def reconcile_state(self) -> Path:
        """A file for a source's bookkeeping (not correctness state: losing it is safe)."""
        ...

    def watermark(self) -> Watermark | None:
        """What has landed, this run's files included; None while nothing has."""
        ...

    def land(self, rows: Iterable[Row]) -> Path | None:
        """Land rows as one new file, whole or not at all; None when there were none."""
        ...

    def landed_since(self, since: datetime) -> dict[int, tuple[Any, ...]]:
        """Entries landed with a timestamp at or after `since`: sequence -> identity(row)."""
        ...

    def identity(self, row: Row) -> tuple[Any, ...]:
        """A row's identity as it would land (its UIDs under the landing's privacy policy), to
        compare with landed_since's."""
        ...

    def present_instances(self) -> pa.Table:
        """Instances whose latest landed entry is not a Delete, with the source's instance id."""
        ...


class Batches:
    """Collects a source's rows and lands them a file at a time; counts what it landed."""

    def __init__(self, landing: LandingZone, batch_size: int) -> None:
        self.landing = landing
        self.batch_size = batch_size
        self.rows: list[Row] = []
        self.files: list[Path] = []
        self.by_action: Counter[str] = Counter()

    def add(self, row: Row) -> None:
        self.rows.append(row)

    def land_if_full(self) -> None:
        if len(self.rows) >= self.batch_size:
            self.land()

    def land(self, rows: Sequence[Row] | None = None) -> Path | None:
        """Land the collected rows (or `rows`, in a file of their own)."""
        batch = self.rows if rows is None else rows
        path = self.landing.land(batch)
        if path is not None:
            self.files.append(path)
            self.by_action.update(str(row["action"]) for row in batch)
            log.info("landed %d entries in %s", len(batch), path.name)
        if rows is None:
            self.rows = []
        return path


@dataclass
class ExtractSummary:
    """What one extract read and landed, and the feed position before and after."""

    window_start: datetime
    window_end: datetime
    watermark_before: Watermark | None
    watermark_after: Watermark | None = None
    pages: int = 0
    entries_read: int = 0
    already_landed: int = 0
    conflicting: list[int] = field(default_factory=list)  # sequences sent again, changed
    past_window: list[int] = field(default_factory=list)  # sequences dated past the window
    by_action: Counter[str] = field(default_factory=Counter)
    files: list[Path] = field(default_factory=list)

    @property
    def landed(self) -> int:
        return sum(self.by_action.values())

    def page_read(self, entries: int, new: int, on_page: OnPage | None) -> None:
        """Count a page of `entries`, `new` of them to land, and tell the progress callback."""
        self.pages += 1
        self.entries_read += entries
        if on_page is not None:
            on_page(entries, new)

    def took(self, batches: Batches) -> None:
        """Record what `batches` landed, and where the feed position is now."""
        self.files, self.by_action = batches.files, batches.by_action
        self.watermark_after = batches.landing.watermark()
