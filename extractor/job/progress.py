"""A live progress line for long extracts (entries and pages per second) on stderr."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from extractor.sources import OnPage


@contextmanager
def extract_progress(*, enabled: bool = True) -> Iterator[OnPage]:
    """Yields the extract's per-page callback; the line disappears when the extract ends."""
    console = Console(stderr=True)
    columns = (
        SpinnerColumn(),
        TextColumn("{task.fields[entries]:,} entries ({task.fields[new]:,} new)"),
        TextColumn("{task.fields[pages]:,} pages"),
        TextColumn("{task.fields[entry_rate]:,.0f} entries/s"),
        TextColumn("{task.fields[page_rate]:.1f} pages/s"),
        TimeElapsedColumn(),
    )
    started = time.monotonic()
    totals: dict[str, Any] = {"entries": 0, "new": 0, "pages": 0}
    # Only on a terminal: in a log file the live line would be noise.
    enabled = enabled and console.is_terminal
    with Progress(*columns, console=console, transient=True, disable=not enabled) as progress:
        task = progress.add_task("extract", entry_rate=0.0, page_rate=0.0, **totals)

        def on_page(entries: int, new: int) -> None:
            totals["entries"] += entries
            totals["new"] += new
            totals["pages"] += 1
            elapsed = max(time.monotonic() - started, 1e-6)
            progress.update(
                task,
                entry_rate=totals["entries"] / elapsed,
                page_rate=totals["pages"] / elapsed,
                **totals,
            )

        yield on_page
