"""The job's own history: each run's closing record, one JSON file per run under <lake>/runs/.

A file per run is written whole (aside, then renamed), so a reader never sees half a record
and two runs never write the same file; DuckDB reads them all as one table:
`select * from read_json('<lake>/runs/*.json')`. The report (extractor/report/) shows the last
runs from here.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from extractor.build.freshness import write_whole
from extractor.lake import Lake


def record_run(lake: Lake, record: dict[str, Any]) -> Path:
    """Keep a run's closing record (run_id, finished_at and the log record's fields)."""
    finished = datetime.fromisoformat(str(record["finished_at"]))
    path = lake.run_record(finished.strftime("%Y%m%dT%H%M%S%fZ"), str(record["run_id"]))
    path.parent.mkdir(parents=True, exist_ok=True)
    write_whole(path, json.dumps(record, default=str, sort_keys=True) + "\n")
    return path


def recent_runs(lake: Lake, count: int = 20) -> list[dict[str, Any]]:
    """The last `count` runs' records, newest first (a record that cannot be read is skipped)."""
    records = []
    for path in sorted(lake.runs.glob("*.json"), reverse=True)[:count]:
        try:
            records.append(json.loads(path.read_text()))
        except (OSError, ValueError):
            continue
    return records


def now_text() -> str:
    return datetime.now(UTC).isoformat()
