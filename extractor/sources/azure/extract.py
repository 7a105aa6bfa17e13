"""One extract run: read the feed from just before the watermark to now - lag; land what is new."""

from __future__ import annotations

import logging
from contextlib import closing
from datetime import UTC, datetime

from extractor.sources.azure.feed import FetchPage, read_window
from extractor.sources.azure.settings import AzureSettings
from extractor.sources.azure.timestamps import datetime_to_ticks
from extractor.sources.contract import (
    FEED_BEGINNING,
    Batches,
    ExtractSummary,
    LandingZone,
    OnPage,
    Watermark,
    dated_past_window,
    some_sequences,
)
from extractor.sources.http import public_url

log = logging.getLogger(__name__)


def window_for(
    settings: AzureSettings, watermark: Watermark | None, now: datetime
) -> tuple[datetime, datetime]:
    """[start, end): from `overlap` before what has landed (or the configured start) to now - lag.

    The overlap catches late commits: rows the service timestamps before the end of a window
    that was already read.
    """
    if watermark is None:
        return settings.start_time or FEED_BEGINNING, now - settings.lag
    # A watermark in year 0001 has no `overlap` before it: the window starts at the beginning.
    overlap = min(settings.overlap, watermark.timestamp - FEED_BEGINNING)
    return watermark.timestamp - overlap, now - settings.lag


def extract(
    settings: AzureSettings,
    fetch: FetchPage,
    landing: LandingZone,
    *,
    now: datetime | None = None,
    on_page: OnPage | None = None,
) -> ExtractSummary:
    """Land the feed's entries since the watermark that have not landed yet."""
    watermark = landing.watermark()
    start, end = window_for(settings, watermark, now or datetime.now(UTC))
    summary = ExtractSummary(window_start=start, window_end=end, watermark_before=watermark)
    summary.watermark_after = watermark
    if end <= start:
        log.info("window [%s, %s) is empty: nothing to read yet", start, end)
        return summary

    seen = landing.landed_since(start)
    source = public_url(settings.service_url)
    batches = Batches(landing, settings.batch_size)

    ticks = datetime_to_ticks(start), datetime_to_ticks(end)
    stamp = {"source": source, "window_end": end}
    # Closed on the way out, so a failure here does not leave the next page's request running.
    with closing(read_window(fetch, *ticks, settings.page_size)) as pages:
        for page in pages:
            extracted_at = datetime.now(UTC)
            new = 0
            for entry in page:
                row = {**entry.row, "extracted_at": extracted_at, **stamp}
                if entry.sequence in seen:
                    summary.already_landed += 1
                    if seen[entry.sequence] != landing.identity(row):
                        summary.conflicting.append(entry.sequence)
                    continue
                seen[entry.sequence] = landing.identity(row)
                if dated_past_window(row):
                    summary.past_window.append(entry.sequence)
                batches.add(row)
                new += 1
            summary.page_read(len(page), new, on_page)
            batches.land_if_full()
    batches.land()
    summary.took(batches)
    if summary.conflicting:
        log.warning(
            "%d sequence(s) came again naming another instance, action or time than the copy "
            "already landed (sequence %s): the service reused them; the landed copy is kept",
            len(summary.conflicting),
            some_sequences(summary.conflicting),
        )
    if summary.past_window:
        log.warning(
            "%d entr%s dated at or after the window's end %s (sequence %s): the service sent "
            "what it was not asked for; landed, but not trusted for the watermark",
            len(summary.past_window),
            "y" if len(summary.past_window) == 1 else "ies",
            end.isoformat(),
            some_sequences(summary.past_window),
        )
    return summary
