"""One extract run: read the feed from just before the watermark to now - lag; land what is new."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from extractor.changefeed import FEED_BEGINNING, FetchPage, read_window
from extractor.landing import Lander, Watermark, landed_sequences_since, read_watermark
from extractor.settings import ExtractSettings, public_url
from extractor.timestamps import datetime_to_ticks

log = logging.getLogger(__name__)

# Called after every page with (entries on the page, of which new).
OnPage = Callable[[int, int], None]


@dataclass
class ExtractSummary:
    window_start: datetime
    window_end: datetime
    watermark_before: Watermark | None
    watermark_after: Watermark | None = None
    pages: int = 0
    entries_read: int = 0
    already_landed: int = 0
    by_action: Counter[str] = field(default_factory=Counter)
    files: list[Path] = field(default_factory=list)

    @property
    def landed(self) -> int:
        return sum(self.by_action.values())


def window_for(
    settings: ExtractSettings, watermark: Watermark | None, now: datetime
) -> tuple[datetime, datetime]:
    """[start, end): from `overlap` before what has landed (or the configured start) to now - lag.

    The overlap catches late commits: rows the service timestamps before the end of a window
    that was already read.
    """
    if watermark is not None:
        start = watermark.timestamp - settings.overlap
    else:
        start = settings.start_time or FEED_BEGINNING
    return start, now - settings.lag


def extract(
    settings: ExtractSettings,
    fetch: FetchPage,
    *,
    now: datetime | None = None,
    on_page: OnPage | None = None,
) -> ExtractSummary:
    lake_dir = settings.lake_dir
    before = read_watermark(lake_dir)
    start, end = window_for(settings, before, now or datetime.now(UTC))
    summary = ExtractSummary(window_start=start, window_end=end, watermark_before=before)
    if end <= start:
        log.info("window [%s, %s) is empty: nothing to read yet", start, end)
        summary.watermark_after = before
        return summary

    seen = landed_sequences_since(lake_dir, start)
    source = public_url(settings.service_url)
    lander = Lander(lake_dir, settings.batch_size)
    summary.files, summary.by_action = lander.files, lander.by_action

    ticks = datetime_to_ticks(start), datetime_to_ticks(end)
    # Closed on the way out, so a failure here does not leave the next page's request running.
    with closing(read_window(fetch, *ticks, settings.page_size)) as pages:
        for page in pages:
            extracted_at = datetime.now(UTC)
            new = 0
            for entry in page:
                if entry.sequence in seen:
                    summary.already_landed += 1
                    continue
                seen.add(entry.sequence)
                lander.add({**entry.row, "extracted_at": extracted_at, "source": source})
                new += 1
            summary.pages += 1
            summary.entries_read += len(page)
            if on_page is not None:
                on_page(len(page), new)
            lander.land_if_full()
    lander.land()
    summary.watermark_after = read_watermark(lake_dir)
    return summary
