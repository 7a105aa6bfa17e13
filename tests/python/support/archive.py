"""A simulated archive for the Delta tests: a change feed and the marts dbt would build from it,
in a real `<lake>/warehouse.duckdb`, in the shapes the dbt models promise."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from deltalake import DeltaTable

from extractor.delta import TABLES
from extractor.lake import Lake
from extractor.sources import Watermark
from support.lake_checks import assert_delta_matches_marts, mart_rows

EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass
class FakeArchive:
    """A change feed and the marts dbt would build from it, in `<lake>/warehouse.duckdb`."""

    lake_dir: Path
    events: list[dict[str, Any]] = field(default_factory=list)
    with_body_part: bool = False

    @property
    def sequence(self) -> int:
        return self.events[-1]["sequence"] if self.events else 0

    @property
    def watermark(self) -> Watermark:
        return Watermark(self.sequence, self.events[-1]["ts"])

    def event(
        self,
        action: str,
        study: str,
        series: str,
        sop: str,
        *,
        partition: str = "Microsoft.Default",
        modality: str = "CT",
        thickness: float = 1.25,
    ) -> None:
        sequence = self.sequence + 1
        self.events.append(
            {
                "sequence": sequence,
                "ts": EPOCH + timedelta(minutes=sequence),
                "action": action,
                "partition_name": partition,
                "study_instance_uid": study,
                "series_instance_uid": series,
                "sop_instance_uid": sop,
                "modality": modality,
                "study_date": date(2025, 12, 1) + timedelta(days=sequence % 7),
                "study_time": time(8, sequence % 60, 5, 250000 * (sequence % 2)),
                "acquisition_datetime": datetime(2025, 12, 1, 9, 0) + timedelta(seconds=sequence),
                "instance_number": sequence,
                "slice_thickness": thickness,
                "image_type": ["ORIGINAL", "PRIMARY"] if sequence % 2 else ["DERIVED"],
                "body_part_examined": "CHEST" if sequence % 3 else None,
            }
        )

    def build(self) -> None:
        """Rebuild the four marts from the events, like `dbt build`."""
        self.lake_dir.mkdir(parents=True, exist_ok=True)
        body_part = "body_part_examined," if self.with_body_part else ""
        instance_key = "partition_name, study_instance_uid, series_instance_uid, sop_instance_uid"
        events = pa.Table.from_pylist(self.events)
        with duckdb.connect(str(Lake(self.lake_dir).warehouse)) as connection:
            connection.execute("set TimeZone = 'UTC'")
            connection.register("events_arrow", events)
            connection.execute(
                """
                create or replace temp table events as
                select * replace (ts::timestamptz as ts, study_time::time as study_time)
                from events_arrow
                """
            )
            connection.execute(
                f"""
                create or replace table main.instance as
                with latest as (
                    select *, row_number() over (
                        partition by {instance_key} order by sequence desc) as newest
                    from events)
                select {instance_key}, modality, study_date, study_time, acquisition_datetime,
                    instance_number, slice_thickness, image_type::varchar[] as image_type,
                    {body_part}
                    sequence as last_sequence, ts as last_modified,
                    '{{"00080060": "' || modality || '"}}' as metadata
                from latest where newest = 1 and action <> 'Deleted'
                """
            )
            connection.execute(
                """
                create or replace table main.series as
                select i.partition_name, i.study_instance_uid, i.series_instance_uid,
                    min(i.modality) as modality, count(*) as number_of_instances,
                    avg(i.slice_thickness) as mean_slice_thickness,
                    any_value(e.last_sequence) as last_sequence,
                    any_value(e.last_modified) as last_modified
                from main.instance as i
                join (select partition_name, study_instance_uid, series_instance_uid,
                        max(sequence) as last_sequence, max(ts) as last_modified
                      from events group by all) as e
                    using (partition_name, study_instance_uid, series_instance_uid)
                group by all
                """
            )
            connection.execute(
                """
                create or replace table main.study as
                select i.partition_name, i.study_instance_uid,
                    list(distinct i.modality order by i.modality) as modalities_in_study,
                    count(distinct i.series_instance_uid) as number_of_series,
                    count(*) as number_of_instances, min(i.study_date) as study_date,
                    any_value(e.last_sequence) as last_sequence,
                    any_value(e.last_modified) as last_modified
                from main.instance as i
                join (select partition_name, study_instance_uid,
                        max(sequence) as last_sequence, max(ts) as last_modified
                      from events group by all) as e
                    using (partition_name, study_instance_uid)
                group by all
                """
            )
            connection.execute(
                f"""
                create or replace table main.instance_history as
                select {instance_key}, sequence, action, ts as valid_from,
                    lead(ts) over (partition by {instance_key} order by sequence) as valid_to,
                    action = 'Deleted' as is_deleted, modality, slice_thickness
                from events
                """
            )

    def mart_rows(self, table: str) -> list[dict[str, Any]]:
        return mart_rows(self.lake_dir, table)


def assert_published(archive: FakeArchive, delta_uri: str, **options: Any) -> None:
    assert_delta_matches_marts(archive.lake_dir, delta_uri, **options)


def delta_schema(uri: str) -> pa.Schema:
    return pa.schema(DeltaTable(uri).schema().to_arrow())


def data_files(uri: str) -> list[str]:
    """The table's data files, relative to its root."""
    return [str(path) for path in pa.table(DeltaTable(uri).get_add_actions()).column("path")]


def studies_by_file(uri: str) -> dict[str, set[str]]:
    return {
        path: {str(uid) for uid in pq.read_table(Path(uri, path)).column("study_instance_uid")}
        for path in data_files(uri)
    }


def versions(delta_uri: str) -> dict[str, int]:
    return {table: DeltaTable(f"{delta_uri}/{table}").version() for table in TABLES}


def seed(archive: FakeArchive) -> None:
    """Two partitions, three studies, five series, eleven instances."""
    for sop in range(4):
        archive.event("Created", "1.1", "1.1.1", f"1.1.1.{sop}")
    for sop in range(2):
        archive.event("Created", "1.1", "1.1.2", f"1.1.2.{sop}", modality="SR", thickness=0.0)
    for sop in range(3):
        archive.event("Created", "1.2", "1.2.1", f"1.2.1.{sop}", modality="MR")
    archive.event("Created", "1.1", "9.9.1", "9.9.1.0", partition="Research")
    archive.event("Created", "1.1", "9.9.2", "9.9.2.0", partition="Research", modality="US")


def interrupt_merges_into(monkeypatch: pytest.MonkeyPatch, table: str) -> None:
    """Make every MERGE into `<delta>/<table>` fail, as a publication killed there would;
    `monkeypatch.undo()` lets them run again."""
    original = DeltaTable.merge

    def failing_merge(self: DeltaTable, *args: Any, **kwargs: Any) -> Any:
        if self.table_uri.rstrip("/").endswith(f"/{table}"):
            raise RuntimeError("interrupted")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(DeltaTable, "merge", failing_merge)
