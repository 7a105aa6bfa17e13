"""How a run ends: its exit code (README.md documents them for schedulers) and its report."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

from extractor.build import BuildResult
from extractor.delta import PublishResult
from extractor.sources import ExtractSummary, Watermark


class ExitCode(IntEnum):
    """What a run's exit status means."""

    OK = 0
    FAILED = 1  # an unexpected error (a bug): the log has the traceback
    USAGE = 2  # bad flags or settings; nothing was run
    SOURCE_UNREACHABLE = 3
    AUTH_FAILURE = 4
    SOURCE_ERROR = 5  # the service answered, but not usefully (400, 404, lasting 5xx, bad pages)
    BUILD_FAILURE = 6
    PUBLISH_FAILURE = 7
    LANDING_FAILURE = 8  # the landing zone cannot be written (disk full, permissions)
    LAKE_BUSY = 9  # another run holds the lake's lock
    WAREHOUSE_BUSY = 10  # another process (an analyst's session) holds warehouse.duckdb
    CONFIGURATION = 11  # the dbt project's seeds cannot be used; no model was run
    NOTHING_NEW = 99  # not an error: nothing landed and nothing was published (Airflow: skipped)


class JobFailure(Exception):
    def __init__(self, code: ExitCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class JobReport:
    """What one run did: written as the closing log record and read for the exit code."""

    command: str
    run_id: str
    durations: dict[str, float] = field(default_factory=dict)
    watermark_before: Watermark | None = None
    extract: ExtractSummary | None = None
    build: BuildResult | None = None
    publication: PublishResult | None = None

    @property
    def nothing_new(self) -> bool:
        landed_nothing = self.extract is not None and self.extract.landed == 0
        published_nothing = self.publication is None or not self.publication.committed
        return landed_nothing and published_nothing

    def log_fields(self) -> dict[str, Any]:
        values: dict[str, Any] = {
            "command": self.command,
            "durations_s": {stage: round(s, 3) for stage, s in self.durations.items()},
            "watermark_before": mark(self.watermark_before),
        }
        if self.extract is not None:
            values |= {
                "pages": self.extract.pages,
                "entries_read": self.extract.entries_read,
                "already_landed": self.extract.already_landed,
                "landed": self.extract.landed,
                "landed_by_action": dict(self.extract.by_action),
                "dated_past_window": len(self.extract.past_window),
                "conflicting_copies": len(self.extract.conflicting),
                "files": len(self.extract.files),
            }
        if self.build is not None:
            values |= {
                "dbt_up_to_date": self.build.up_to_date,
                "dbt_failed": self.build.failed,
                "dbt_warned": self.build.warned,
            }
        if self.publication is not None:
            values["delta_up_to_date"] = self.publication.up_to_date
            values["published"] = {t.table: t.version for t in self.publication.tables}
        return values


def mark(watermark: Watermark | None) -> dict[str, Any] | None:
    """A watermark as log fields."""
    if watermark is None:
        return None
    return {"sequence": watermark.sequence, "timestamp": watermark.timestamp.isoformat()}
