"""The report's figures: from the marts (read-only), the watermark and the run history."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import duckdb

from extractor.job.history import recent_runs
from extractor.lake import Lake
from extractor.landing import LandingZone

EXAMPLES = 5
LARGEST = 10


@dataclass
class Table:
    """Rows to show, with their column names."""

    columns: list[str]
    rows: list[tuple[Any, ...]]


@dataclass
class Figures:
    generated_at: datetime
    totals: dict[str, int]
    by_modality: list[tuple[str, int]]
    by_month: list[tuple[str, int]]
    modality_counts: Table
    largest_studies: Table
    watermark_sequence: int | None
    watermark_time: datetime | None
    runs: list[dict[str, Any]]
    value_errors: Table
    value_error_examples: Table
    quality_counts: dict[str, int]
    quarantine_examples: Table
    anomaly_examples: Table
    notes: list[str] = field(default_factory=list)

    @property
    def lag(self) -> str:
        """How far the lake is behind now, as a person reads it."""
        if self.watermark_time is None:
            return "nothing landed"
        seconds = int((self.generated_at - self.watermark_time).total_seconds())
        hours, rest = divmod(max(seconds, 0), 3600)
        return f"{hours} h {rest // 60} min" if hours else f"{rest // 60} min {rest % 60} s"


def _table(connection: duckdb.DuckDBPyConnection, sql: str) -> Table:
    cursor = connection.execute(sql)
    return Table([column[0] for column in cursor.description or []], cursor.fetchall())


def read_figures(lake: Lake) -> Figures:
    """Everything the page shows. Raises FileNotFoundError when the lake has no warehouse."""
    if not lake.warehouse.is_file():
        raise FileNotFoundError(
            f"no warehouse at {lake.warehouse}: build the lake first (dicom-lake run or build)"
        )
    watermark = LandingZone(lake).watermark()
    with duckdb.connect(str(lake.warehouse), read_only=True) as connection:
        connection.execute("set TimeZone = 'UTC'")

        def scalar(sql: str) -> int:
            row = connection.execute(sql).fetchone()
            return int(row[0]) if row and row[0] is not None else 0

        totals = {
            "studies": scalar("select count(*) from study"),
            "series": scalar("select count(*) from series"),
            "instances": scalar("select count(*) from instance"),
        }
        by_modality = connection.execute(
            "select coalesce(modality, '(none)'), count(*) from instance"
            " group by all order by 2 desc, 1"
        ).fetchall()
        by_month = connection.execute(
            "select coalesce(strftime(study_date, '%Y-%m'), '(no date)'), count(*) from study"
            " group by all order by 1"
        ).fetchall()
        modality_counts = _table(
            connection,
            "select coalesce(modality, '(none)') as modality,"
            " count(distinct (partition_name, study_instance_uid)) as studies,"
            " count(distinct (partition_name, study_instance_uid, series_instance_uid)) as series,"
            " count(*) as instances from instance group by all order by instances desc, modality",
        )
        largest = _table(
            connection,
            "select study_instance_uid, study_date, array_to_string(modalities_in_study, ', ')"
            " as modalities, series_count, instance_count from study"
            f" order by instance_count desc, study_instance_uid limit {LARGEST}",
        )
        value_errors = _table(
            connection,
            'select coalesce(keyword, tag) as attribute, error_type, reason, count(*) as "values"'
            " from dicom_value_errors group by all order by 4 desc, 1",
        )
        value_error_examples = _table(
            connection,
            "select sop_instance_uid, column_name, raw_value, reason from dicom_value_errors"
            f" order by sop_instance_uid, column_name limit {EXAMPLES}",
        )
        quality_counts = {
            "value errors": scalar("select count(*) from dicom_value_errors"),
            "quarantined entries": scalar("select count(*) from metadata_quarantine"),
            "feed anomalies": scalar("select count(*) from feed_anomalies"),
        }
        quarantine_examples = _table(
            connection,
            "select sequence, action, sop_instance_uid, reason from metadata_quarantine"
            f" order by sequence limit {EXAMPLES}",
        )
        anomaly_examples = _table(
            connection,
            "select sequence, action, sop_instance_uid, anomaly, reason from feed_anomalies"
            f" order by sequence limit {EXAMPLES}",
        )
    return Figures(
        generated_at=datetime.now(UTC),
        totals=totals,
        by_modality=[(str(name), int(count)) for name, count in by_modality],
        by_month=[(str(month), int(count)) for month, count in by_month],
        modality_counts=modality_counts,
        largest_studies=largest,
        watermark_sequence=None if watermark is None else watermark.sequence,
        watermark_time=None if watermark is None else watermark.timestamp,
        runs=recent_runs(lake),
        value_errors=value_errors,
        value_error_examples=value_error_examples,
        quality_counts=quality_counts,
        quarantine_examples=quarantine_examples,
        anomaly_examples=anomaly_examples,
    )
