"""Landed files that cannot be read (a disk fault, a copy gone wrong), moved out of the way.

One unreadable file would fail every read of the landing zone, and so every run. It is moved to
`<lake>/quarantine/landing/` (kept for inspection, never read) and its entries are read from the
feed again: until both the first and the last sequence its name gives have landed once more, the
watermark stays before them (extractor.landing.zone).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from extractor.lake import Lake, changefeed_file_range

log = logging.getLogger(__name__)


def quarantine_damaged(lake: Lake) -> list[Path]:
    """Move every landed file whose Parquet footer cannot be read to the quarantine folder."""
    moved = []
    for path, error in _damaged(lake.changefeed):
        target = lake.landing_quarantine / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(path, target)
        first, last = changefeed_file_range(path)
        log.warning(
            "landed file %s cannot be read (%s): moved to %s; its entries (sequence %d to %d) "
            "are read from the feed again",
            path.name,
            error,
            target,
            first,
            last,
        )
        moved.append(target)
    return moved


def quarantined_ranges(lake: Lake) -> list[tuple[int, int]]:
    """(first, last) sequence of every quarantined file, earliest first."""
    return sorted(changefeed_file_range(path) for path in lake.landing_quarantine.glob("*.parquet"))


def _damaged(changefeed: Path) -> Iterator[tuple[Path, str]]:
    for path in sorted(changefeed.glob("*.parquet")):
        try:
            pq.read_metadata(path)
        except (pa.ArrowException, OSError) as error:
            yield path, str(error)
