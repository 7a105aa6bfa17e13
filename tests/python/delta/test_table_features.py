"""Every published table stays readable by every reader, whatever columns the marts gain.

Read back with delta-rs and with an independent reader, DuckDB's delta extension
(delta-kernel-rs, support/readers.py), which refuses a table whose protocol lacks a feature its
schema uses.
"""

from __future__ import annotations

import json

import duckdb
import pytest
from deltalake import DeltaTable
from support.archive import (
    FakeArchive,
    assert_published,
    interrupt_merges_into,
    versions,
)
from support.fabric import invisible_attributes
from support.lake_checks import delta_rows
from support.readers import kernel_rows

from extractor.delta import TABLES, DeltaProfile, publish
from extractor.lake import Lake

# A DICOM DT at series level (DateTimeOfLastCalibration) and a multi-valued one: the local time
# as written, which DuckDB types TIMESTAMP and Delta `timestamp_ntz`.
_DT_COLUMNS = (
    "timestamp '2025-11-30 14:30:05.25' as date_time_of_last_calibration,"
    " [timestamp '2025-11-29 08:00:00', timestamp '2025-11-30 08:00:00'] as calibration_times"
)


def _add_series_columns(archive: FakeArchive, columns: str) -> None:
    with duckdb.connect(str(Lake(archive.lake_dir).warehouse)) as connection:
        connection.execute(f"create or replace table series as select *, {columns} from series")


def assert_every_reader_reads(delta_uri: str) -> None:
    for table in TABLES:
        uri = f"{delta_uri}/{table}"
        assert len(kernel_rows(uri)) == len(delta_rows(uri)), table


def test_a_datetime_column_added_at_series_level_gets_its_table_feature(
    archive: FakeArchive, delta_uri: str
) -> None:
    publish(archive.lake_dir, delta_uri, watermark=archive.watermark)
    assert DeltaTable(f"{delta_uri}/series").protocol().reader_features is None
    _add_series_columns(archive, _DT_COLUMNS)

    result = publish(archive.lake_dir, delta_uri, watermark=archive.watermark)

    series = next(t for t in result.tables if t.table == "series")
    assert series.added_columns == ("date_time_of_last_calibration", "calibration_times")
    assert series.added_features == ("timestampNtz",)
    protocol = DeltaTable(f"{delta_uri}/series").protocol()
    assert "timestampNtz" in (protocol.reader_features or [])
    assert "timestampNtz" in (protocol.writer_features or [])
    assert_every_reader_reads(delta_uri)
    rows = kernel_rows(f"{delta_uri}/series")
    assert {row["date_time_of_last_calibration"] for row in rows} == {"2025-11-30 14:30:05.25"}
    assert_published(archive, delta_uri)
    # The next runs succeed: nothing new commits nothing, new events merge.
    before = versions(delta_uri)
    assert not publish(archive.lake_dir, delta_uri, watermark=archive.watermark).committed
    assert versions(delta_uri) == before


def test_a_publication_interrupted_after_the_feature_leaves_readable_tables(
    archive: FakeArchive, delta_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    publish(archive.lake_dir, delta_uri, watermark=archive.watermark)
    _add_series_columns(archive, _DT_COLUMNS)
    interrupt_merges_into(monkeypatch, "series")
    with pytest.raises(RuntimeError, match="interrupted"):
        publish(archive.lake_dir, delta_uri, watermark=archive.watermark)
    # The feature is declared, the column not added yet: every reader still reads the table.
    assert "timestampNtz" in (DeltaTable(f"{delta_uri}/series").protocol().reader_features or [])
    assert "date_time_of_last_calibration" not in kernel_rows(f"{delta_uri}/series")[0]
    assert_every_reader_reads(delta_uri)
    monkeypatch.undo()

    result = publish(archive.lake_dir, delta_uri, watermark=archive.watermark)

    series = next(t for t in result.tables if t.table == "series")
    assert series.added_features == ()  # declared by the interrupted run
    assert_every_reader_reads(delta_uri)
    assert_published(archive, delta_uri)


def test_the_fabric_profile_publishes_only_types_the_sql_endpoint_shows(
    archive: FakeArchive, delta_uri: str
) -> None:
    _add_series_columns(archive, _DT_COLUMNS)

    publish(archive.lake_dir, delta_uri, watermark=archive.watermark, profile=DeltaProfile.fabric)

    for table in TABLES:
        uri = f"{delta_uri}/{table}"
        assert invisible_attributes(uri) == [], table
        assert "timestampNtz" not in (DeltaTable(uri).protocol().reader_features or []), table
    assert_every_reader_reads(delta_uri)
    instance = {row["sop_instance_uid"]: row for row in delta_rows(f"{delta_uri}/instance")}
    marts = {row["sop_instance_uid"]: row for row in archive.mart_rows("instance")}
    for sop, row in instance.items():
        assert json.loads(row["image_type_json"]) == row["image_type"] == marts[sop]["image_type"]
        # the DT's wall clock, read in UTC as the endpoint's datetime2 shows it
        written = row["acquisition_datetime"]
        assert written.tzinfo is not None
        assert written.replace(tzinfo=None) == marts[sop]["acquisition_datetime"]
    series = delta_rows(f"{delta_uri}/series")[0]
    assert json.loads(series["calibration_times_json"]) == [
        "2025-11-29 08:00:00",
        "2025-11-30 08:00:00",
    ]
    # A table's types cannot change in place: the other profile is refused, with the reason.
    with pytest.raises(ValueError, match="created with the fabric Delta profile"):
        publish(archive.lake_dir, delta_uri, watermark=archive.watermark)


def test_the_standard_profile_leaves_lists_and_datetimes_out_of_the_sql_endpoint(
    archive: FakeArchive, delta_uri: str
) -> None:
    # Why the fabric profile exists: what the endpoint would not show of a standard table.
    publish(archive.lake_dir, delta_uri, watermark=archive.watermark)

    assert invisible_attributes(f"{delta_uri}/instance") == ["acquisition_datetime", "image_type"]
    assert invisible_attributes(f"{delta_uri}/study") == ["modalities_in_study"]
    with pytest.raises(ValueError, match="created with the standard Delta profile"):
        publish(
            archive.lake_dir, delta_uri, watermark=archive.watermark, profile=DeltaProfile.fabric
        )
