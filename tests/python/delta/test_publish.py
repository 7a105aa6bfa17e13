"""Publishing the marts as Delta tables, read back with `deltalake` and compared row for row.

The marts are fixtures built here in a real DuckDB file, in the shapes the dbt models promise,
from a small simulated change feed, so every scenario (inserts, updates, deletes, re-create, a
new tag column) moves `last_sequence` the way the real models do.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from deltalake import DeltaTable, write_deltalake
from support.archive import (
    EPOCH,
    FakeArchive,
    assert_published,
    data_files,
    delta_schema,
    interrupt_merges_into,
    seed,
    studies_by_file,
    versions,
)
from support.lake_checks import delta_rows
from support.readers import kernel_rows

from extractor.delta import (
    APP_ID,
    META_SEQUENCE,
    META_TIMESTAMP,
    TABLES,
    DeltaProfile,
    maintain,
    publish,
    resolve_delta_uri,
    storage_options_for,
    version_as_of_sequence,
)
from extractor.delta.changes import pruning_predicate
from extractor.delta.publish import PublicationMismatch
from extractor.lake import Lake, delta_table_uri
from extractor.sources import Watermark


def test_default_location_is_lake_delta_and_env_overrides(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DICOM_LAKE_DELTA_URI", "az://the/cli/reads/this")  # not publish's job
    assert resolve_delta_uri(tmp_path / "lake") == str((tmp_path / "lake" / "delta").resolve())
    uri = "abfss://c@acct.dfs.core.windows.net/dicom/"
    assert resolve_delta_uri(tmp_path, uri) == "abfss://c@acct.dfs.core.windows.net/dicom"


def test_first_load_creates_the_four_tables_with_typed_columns(
    archive: FakeArchive, delta_uri: str
) -> None:
    result = publish(archive.lake_dir, delta_uri, watermark=archive.watermark)

    assert [t.table for t in result.tables] == list(TABLES)
    assert all(t.created and t.version == 0 for t in result.tables)
    assert_published(archive, delta_uri)
    schema = delta_schema(f"{delta_uri}/instance")
    assert schema.field("study_date").type == pa.date32()
    assert schema.field("study_time").type == pa.string()
    assert schema.field("acquisition_datetime").type == pa.timestamp("us")
    assert schema.field("last_modified").type == pa.timestamp("us", tz="UTC")
    assert schema.field("instance_number").type == pa.int64()
    assert schema.field("slice_thickness").type == pa.float64()
    assert schema.field("image_type").type.value_type == pa.string()
    study = delta_schema(f"{delta_uri}/study")
    assert study.field("modalities_in_study").type.value_type == pa.string()
    rows = delta_rows(f"{delta_uri}/instance")
    assert rows[0]["study_time"] == "08:01:05.25"


def test_commit_metadata_names_the_watermark(archive: FakeArchive, delta_uri: str) -> None:
    publish(archive.lake_dir, delta_uri, watermark=archive.watermark)

    for table in TABLES:
        delta = DeltaTable(f"{delta_uri}/{table}")
        commit = delta.history(limit=1)[0]
        assert commit[META_SEQUENCE] == 11
        assert commit[META_TIMESTAMP] == "2026-01-01T00:11:00+00:00"
        assert delta.transaction_version(APP_ID) == 11


def test_publishing_twice_commits_nothing(archive: FakeArchive, delta_uri: str) -> None:
    publish(archive.lake_dir, delta_uri, watermark=archive.watermark)
    before = versions(delta_uri)

    result = publish(archive.lake_dir, delta_uri, watermark=archive.watermark, force=True)

    assert not result.committed and not result.up_to_date
    assert versions(delta_uri) == before


def test_a_publication_with_nothing_changed_is_skipped(
    archive: FakeArchive, delta_uri: str
) -> None:
    def again(**options: Any) -> Any:
        return publish(archive.lake_dir, delta_uri, watermark=archive.watermark, **options)

    assert again().committed
    skipped = again()
    assert skipped.up_to_date and not skipped.committed and skipped.tables == []
    # a commit by anyone else makes the next one look again
    DeltaTable(f"{delta_uri}/series").alter.set_table_properties(
        {"delta.logRetentionDuration": "interval 60 days"}
    )
    looked = again()
    assert not looked.up_to_date and not looked.committed
    assert again().up_to_date
    # so does a new build of the marts, another watermark, a full refresh, another location
    archive.event("Created", "3.1", "3.1.1", "3.1.1.0")
    archive.build()
    assert not again().up_to_date
    assert_published(archive, delta_uri)
    assert again().up_to_date
    moved = Watermark(archive.watermark.sequence + 1, archive.watermark.timestamp)
    assert not publish(archive.lake_dir, delta_uri, watermark=moved).up_to_date
    assert not again(full_refresh=True).up_to_date
    elsewhere = publish(archive.lake_dir, f"{delta_uri}-copy", watermark=archive.watermark)
    assert not elsewhere.up_to_date and elsewhere.committed
    # a failed publication leaves no stamp: the next one runs
    Lake(archive.lake_dir).warehouse.rename(Lake(archive.lake_dir).warehouse.with_suffix(".away"))
    with pytest.raises(duckdb.IOException):
        again()
    assert not Lake(archive.lake_dir).publication_stamp.exists()


def test_inserts_updates_deletes_and_recreate_converge(
    archive: FakeArchive, delta_uri: str
) -> None:
    publish(archive.lake_dir, delta_uri, watermark=archive.watermark)

    # Inserts: a new instance in an existing series, a new series, a new study.
    archive.event("Created", "1.1", "1.1.1", "1.1.1.9")
    archive.event("Created", "1.2", "1.2.2", "1.2.2.0", modality="PR")
    archive.event("Created", "2.1", "2.1.1", "2.1.1.0", modality="DX")
    archive.build()
    result = publish(archive.lake_dir, delta_uri, watermark=archive.watermark)
    assert {t.table: t.version for t in result.tables} == dict.fromkeys(TABLES, 1)
    instance = next(t for t in result.tables if t.table == "instance")
    assert (instance.upserted, instance.deleted, instance.previous_sequence) == (3, 0, 11)
    assert_published(archive, delta_uri)

    # Bulk update: every instance of a study changes; history rows get their valid_to.
    for sop in [*(f"1.1.1.{n}" for n in range(4)), "1.1.1.9"]:
        archive.event("Updated", "1.1", "1.1.1", sop, thickness=2.5)
    archive.build()
    publish(archive.lake_dir, delta_uri, watermark=archive.watermark)
    assert_published(archive, delta_uri)
    history = delta_rows(f"{delta_uri}/instance_history")
    assert sum(row["valid_to"] is not None for row in history) == 5

    # Deletes: one instance, then a whole series (its series row disappears, the study stays).
    archive.event("Deleted", "1.2", "1.2.1", "1.2.1.0")
    archive.event("Deleted", "1.1", "1.1.2", "1.1.2.0")
    archive.event("Deleted", "1.1", "1.1.2", "1.1.2.1")
    archive.build()
    before_delete = versions(delta_uri)
    result = publish(archive.lake_dir, delta_uri, watermark=archive.watermark)
    assert_published(archive, delta_uri)
    assert {t.table: t.deleted for t in result.tables} == {
        "instance": 3,
        "series": 1,
        "study": 0,
        "instance_history": 0,
    }
    series_keys = {row["series_instance_uid"] for row in delta_rows(f"{delta_uri}/series")}
    assert "1.1.2" not in series_keys
    # Deleted rows stay reachable through time travel.
    old = delta_rows(f"{delta_uri}/instance", version=before_delete["instance"])
    assert {"1.2.1.0", "1.1.2.0", "1.1.2.1"} <= {row["sop_instance_uid"] for row in old}

    # Re-create: a deleted instance comes back with the same key.
    archive.event("Created", "1.1", "1.1.2", "1.1.2.0", modality="SR")
    archive.build()
    publish(archive.lake_dir, delta_uri, watermark=archive.watermark)
    assert_published(archive, delta_uri)
    assert "1.1.2" in {row["series_instance_uid"] for row in delta_rows(f"{delta_uri}/series")}

    # A whole study emptied.
    archive.event("Deleted", "2.1", "2.1.1", "2.1.1.0")
    archive.build()
    publish(archive.lake_dir, delta_uri, watermark=archive.watermark)
    assert_published(archive, delta_uri)
    assert "2.1" not in {row["study_instance_uid"] for row in delta_rows(f"{delta_uri}/study")}


def test_only_changed_rows_are_merged(archive: FakeArchive, delta_uri: str) -> None:
    publish(archive.lake_dir, delta_uri, watermark=archive.watermark)
    archive.event("Updated", "1.2", "1.2.1", "1.2.1.1", thickness=3.0)
    archive.build()

    published = publish(archive.lake_dir, delta_uri, watermark=archive.watermark)
    result = {t.table: t for t in published.tables}

    assert result["instance"].upserted == 1
    assert result["series"].upserted == 1
    assert result["study"].upserted == 1
    # The new event and the row whose valid_to it closed.
    assert result["instance_history"].upserted == 2
    merge = DeltaTable(f"{delta_uri}/instance").history(limit=1)[0]
    assert merge["operation"] == "MERGE"
    assert merge["operationMetrics"]["num_target_rows_updated"] == 1


def test_a_merge_rewrites_only_the_files_of_the_changed_study(tmp_path: Path) -> None:
    archive = FakeArchive(tmp_path / "lake")
    for n in range(1100):  # interleaved, so the marts hold no study in one run of rows
        for study in ("5.1", "5.2", "5.3"):
            archive.event("Created", study, f"{study}.1", f"{study}.1.{n}")
    archive.build()
    delta_uri = str(tmp_path / "delta")
    # A tiny target size makes delta-rs close a file after each slice it writes (1,024 rows).
    publish(archive.lake_dir, delta_uri, watermark=archive.watermark, target_file_size=1)
    holding = studies_by_file(f"{delta_uri}/instance")
    changed = {path for path, held in holding.items() if "5.2" in held}
    assert len(holding) >= 4
    assert len(changed) < len(holding)

    for n in range(1100):  # a bulk update of the whole study
        archive.event("Updated", "5.2", "5.2.1", f"5.2.1.{n}", thickness=2.5)
    archive.build()
    publish(archive.lake_dir, delta_uri, watermark=archive.watermark)

    merge = DeltaTable(f"{delta_uri}/instance").history(limit=1)[0]["operationMetrics"]
    assert merge["num_target_rows_updated"] == 1100
    assert merge["num_target_files_removed"] == len(changed)
    assert set(data_files(f"{delta_uri}/instance")) >= set(holding) - changed
    assert_published(archive, delta_uri)


def test_deletes_are_found_without_reading_the_files_of_other_studies(tmp_path: Path) -> None:
    archive = FakeArchive(tmp_path / "lake")
    for n in range(1100):
        for study in ("5.1", "5.2", "5.3"):
            archive.event("Created", study, f"{study}.1", f"{study}.1.{n}")
    archive.build()
    delta_uri = str(tmp_path / "delta")
    publish(archive.lake_dir, delta_uri, watermark=archive.watermark, target_file_size=1)
    archive.event("Deleted", "5.2", "5.2.1", "5.2.1.7")
    archive.build()
    # A publication that read a file of another study would fail: take those files away.
    instance = f"{delta_uri}/instance"
    aside = tmp_path / "aside"
    aside.mkdir()
    for path, held in studies_by_file(instance).items():
        if "5.2" not in held:
            Path(instance, path).rename(aside / path)

    publish(archive.lake_dir, delta_uri, watermark=archive.watermark)

    merge = DeltaTable(instance).history(limit=1)[0]["operationMetrics"]
    assert merge["num_target_rows_deleted"] == 1
    for path in aside.iterdir():
        path.rename(Path(instance, path.name))
    assert_published(archive, delta_uri)


def test_the_merge_predicate_lets_delta_rs_skip_files_without_the_study(tmp_path: Path) -> None:
    uri = str(tmp_path / "table")
    rows = [{"study_instance_uid": s, "n": n} for s in ("5.1", "5.2", "5.3") for n in range(1100)]
    write_deltalake(uri, pa.Table.from_pylist(rows), target_file_size=1)
    holding = studies_by_file(uri)
    source = pa.Table.from_pylist([{"study_instance_uid": "5.2", "n": 7}])
    join = "target.study_instance_uid = source.study_instance_uid and target.n = source.n"
    # A MERGE that opened a file without study 5.2 would fail: take those files away.
    aside = tmp_path / "aside"
    aside.mkdir()
    for path, held in holding.items():
        if "5.2" not in held:
            Path(uri, path).rename(aside / path)

    def merge(predicate: str) -> dict[str, Any]:
        merger = DeltaTable(uri).merge(source, predicate, "source", "target")
        return merger.when_matched_update_all().execute()

    with pytest.raises(Exception, match="not found"):
        merge(join)  # delta-rs ignores the source side of the join when pruning
    metrics = merge(f"{join} and {pruning_predicate(source)}")

    assert metrics["num_target_rows_updated"] == 1
    assert metrics["num_target_files_removed"] == 1


def test_new_tag_column_appears_without_new_events(archive: FakeArchive, delta_uri: str) -> None:
    publish(archive.lake_dir, delta_uri, watermark=archive.watermark)
    archive.with_body_part = True
    archive.build()

    result = publish(archive.lake_dir, delta_uri, watermark=archive.watermark)

    instance = next(t for t in result.tables if t.table == "instance")
    assert instance.added_columns == ("body_part_examined",)
    assert instance.upserted == 11
    assert [t.version for t in result.tables] == [1, None, None, None]
    assert "body_part_examined" in delta_schema(f"{delta_uri}/instance").names
    assert_published(archive, delta_uri)

    archive.event("Created", "1.1", "1.1.1", "1.1.1.7")
    archive.build()
    publish(archive.lake_dir, delta_uri, watermark=archive.watermark)
    assert_published(archive, delta_uri)


def test_partitioning_by_partition_name(archive: FakeArchive, delta_uri: str) -> None:
    publish(
        archive.lake_dir, delta_uri, watermark=archive.watermark, partition_by_partition_name=True
    )
    archive.event("Deleted", "1.1", "9.9.1", "9.9.1.0", partition="Research")
    archive.event("Created", "1.1", "9.9.3", "9.9.3.0", partition="Research")
    archive.build()
    publish(archive.lake_dir, delta_uri, watermark=archive.watermark)

    for table in TABLES:
        assert DeltaTable(f"{delta_uri}/{table}").metadata().partition_columns == ["partition_name"]
    assert_published(archive, delta_uri)
    partitions = DeltaTable(f"{delta_uri}/instance").partitions()
    assert {"partition_name": "Research"} in partitions


@pytest.mark.parametrize("partition", ["a/b", "p'q", "ü", "x y%20"])
def test_deletes_reach_partitions_whose_names_are_percent_encoded(
    archive: FakeArchive, delta_uri: str, partition: str
) -> None:
    archive.event("Created", "7.1", "7.1.1", "7.1.1.0", partition=partition)
    archive.event("Created", "7.1", "7.1.1", "7.1.1.1", partition=partition)
    archive.build()
    publish(
        archive.lake_dir, delta_uri, watermark=archive.watermark, partition_by_partition_name=True
    )
    archive.event("Deleted", "7.1", "7.1.1", "7.1.1.0", partition=partition)
    archive.build()

    result = publish(archive.lake_dir, delta_uri, watermark=archive.watermark)

    assert next(t for t in result.tables if t.table == "instance").deleted == 1
    assert_published(archive, delta_uri)


def test_the_same_study_uid_in_two_partitions_stays_apart(
    archive: FakeArchive, delta_uri: str
) -> None:
    publish(archive.lake_dir, delta_uri, watermark=archive.watermark)
    archive.event("Deleted", "1.1", "9.9.2", "9.9.2.0", partition="Research")
    archive.build()
    publish(archive.lake_dir, delta_uri, watermark=archive.watermark)

    studies = delta_rows(f"{delta_uri}/study")
    assert [
        (r["partition_name"], r["study_instance_uid"])
        for r in studies
        if r["study_instance_uid"] == "1.1"
    ] == [
        ("Microsoft.Default", "1.1"),
        ("Research", "1.1"),
    ]
    assert_published(archive, delta_uri)


def test_a_moved_watermark_without_row_changes_commits_an_empty_version(
    archive: FakeArchive, delta_uri: str
) -> None:
    publish(archive.lake_dir, delta_uri, watermark=archive.watermark)
    later = Watermark(12, EPOCH + timedelta(hours=1))

    result = publish(archive.lake_dir, delta_uri, watermark=later)

    assert [t.version for t in result.tables] == [1, 1, 1, 1]
    for table in TABLES:
        delta = DeltaTable(f"{delta_uri}/{table}")
        assert delta.history(limit=1)[0][META_SEQUENCE] == 12
        assert delta.transaction_version(APP_ID) == 12
    assert_published(archive, delta_uri)


def test_an_interrupted_publication_leaves_tables_whole_and_the_next_run_converges(
    archive: FakeArchive, delta_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    publish(archive.lake_dir, delta_uri, watermark=archive.watermark)
    archive.event("Deleted", "1.2", "1.2.1", "1.2.1.2")
    archive.event("Created", "1.2", "1.2.1", "1.2.1.5")
    archive.build()
    interrupt_merges_into(monkeypatch, "series")
    with pytest.raises(RuntimeError, match="interrupted"):
        publish(archive.lake_dir, delta_uri, watermark=archive.watermark)
    assert versions(delta_uri) == {"instance": 1, "series": 0, "study": 0, "instance_history": 0}
    assert delta_rows(f"{delta_uri}/instance") == archive.mart_rows("instance")
    monkeypatch.undo()

    result = publish(archive.lake_dir, delta_uri, watermark=archive.watermark)

    # instance re-merges the same rows (harmless); the others catch up from their own watermark.
    assert [t.version for t in result.tables][1:] == [1, 1, 1]
    assert_published(archive, delta_uri)
    assert not publish(archive.lake_dir, delta_uri, watermark=archive.watermark).committed


def test_an_event_landing_late_below_the_watermark_is_published(
    tmp_path: Path, delta_uri: str
) -> None:
    archive = FakeArchive(tmp_path / "lake")
    seed(archive)
    late = archive.events.pop(4)  # sequence 5, instance 1.1.2.0: a gap in the feed
    archive.build()
    publish(archive.lake_dir, delta_uri, watermark=archive.watermark)
    assert "1.1.2.0" not in {r["sop_instance_uid"] for r in delta_rows(f"{delta_uri}/instance")}

    archive.events = sorted([*archive.events, late], key=lambda event: event["sequence"])
    archive.build()
    result = publish(archive.lake_dir, delta_uri, watermark=archive.watermark)  # still 11

    assert [t.version for t in result.tables] == [1, 1, 1, 1]
    assert_published(archive, delta_uri)
    assert "1.1.2.0" in {r["sop_instance_uid"] for r in delta_rows(f"{delta_uri}/instance")}


def test_reading_the_lake_as_of_a_sequence(archive: FakeArchive, delta_uri: str) -> None:
    publish(archive.lake_dir, delta_uri, watermark=archive.watermark)  # sequence 11
    first = {table: archive.mart_rows(table) for table in TABLES}
    archive.event("Deleted", "1.1", "1.1.1", "1.1.1.0")
    archive.build()
    publish(archive.lake_dir, delta_uri, watermark=archive.watermark)  # sequence 12

    assert version_as_of_sequence(f"{delta_uri}/instance", 10) is None
    for table in TABLES:
        uri = f"{delta_uri}/{table}"
        assert version_as_of_sequence(uri, 11) == 0
        assert version_as_of_sequence(uri, 12) == 1
        assert version_as_of_sequence(uri, 500) == 1
        assert delta_rows(uri, version=version_as_of_sequence(uri, 11)) == first[table]


def test_a_lost_delta_table_is_recreated(archive: FakeArchive, delta_uri: str) -> None:
    publish(archive.lake_dir, delta_uri, watermark=archive.watermark)
    archive.event("Created", "1.1", "1.1.1", "1.1.1.8")
    archive.build()
    DeltaTable(f"{delta_uri}/series")  # exists
    for path in sorted(Path(delta_uri, "series").rglob("*"), reverse=True):
        path.rmdir() if path.is_dir() else path.unlink()

    result = publish(archive.lake_dir, delta_uri, watermark=archive.watermark)

    assert [t.created for t in result.tables] == [False, True, False, False]
    assert_published(archive, delta_uri)


def test_watermark_defaults_to_what_has_landed(archive: FakeArchive, delta_uri: str) -> None:
    from extractor.landing import LandingZone

    LandingZone(archive.lake_dir).land(
        [
            {
                "sequence": 11,
                "timestamp": EPOCH + timedelta(minutes=11),
                "extracted_at": EPOCH,
                "source": "test",
            }
        ],
    )

    publish(archive.lake_dir, delta_uri)

    assert DeltaTable(f"{delta_uri}/study").transaction_version(APP_ID) == 11


def test_null_keys_are_refused(archive: FakeArchive, delta_uri: str) -> None:
    with duckdb.connect(str(Lake(archive.lake_dir).warehouse)) as connection:
        connection.execute("update main.series set partition_name = null where true")
    with pytest.raises(ValueError, match="null key"):
        publish(archive.lake_dir, delta_uri, watermark=archive.watermark)


def test_maintain_compacts_and_vacuums(archive: FakeArchive, delta_uri: str) -> None:
    publish(archive.lake_dir, delta_uri, watermark=archive.watermark)
    for n in range(3):
        archive.event("Created", "3.1", "3.1.1", f"3.1.1.{n}")
        archive.build()
        publish(archive.lake_dir, delta_uri, watermark=archive.watermark)
    files_before = len(DeltaTable(f"{delta_uri}/instance").file_uris())
    assert files_before > 1

    compacted = maintain(delta_uri)  # default retention: 30 days, nothing is old enough
    assert all(report.vacuumed == [] for report in compacted)
    assert {r.table: r.files_removed for r in compacted}["instance"] == files_before
    instance = DeltaTable(f"{delta_uri}/instance")
    assert len(instance.file_uris()) == 1
    assert len(list(Path(delta_uri, "instance").glob("*.parquet"))) == files_before + 1

    reports = maintain(delta_uri, retention_hours=0)

    assert {r.table: len(r.vacuumed) for r in reports}["instance"] == files_before
    assert len(list(Path(delta_uri, "instance").glob("*.parquet"))) == 1
    instance = DeltaTable(f"{delta_uri}/instance")
    assert instance.history(limit=1)[0][META_SEQUENCE] == archive.sequence
    assert_published(archive, delta_uri)
    # Maintenance changes no row and moves no watermark: publishing again commits nothing.
    maintain(delta_uri, retention_hours=0)
    assert_published(archive, delta_uri)
    assert not publish(archive.lake_dir, delta_uri, watermark=archive.watermark).committed


def file_codecs(uri: str) -> set[str]:
    """The codec of every column chunk of the table's current files, from their footers."""
    return {
        metadata.row_group(group).column(column).compression
        for path in data_files(uri)
        for metadata in [pq.ParquetFile(Path(uri, path)).metadata]
        for group in range(metadata.num_row_groups)
        for column in range(metadata.num_columns)
    }


@pytest.mark.parametrize(
    ("profile", "codec"), [(DeltaProfile.standard, "ZSTD"), (DeltaProfile.fabric, "SNAPPY")]
)
def test_a_table_keeps_the_codec_it_was_created_with(
    archive: FakeArchive, delta_uri: str, profile: DeltaProfile, codec: str
) -> None:
    publish(archive.lake_dir, delta_uri, watermark=archive.watermark, profile=profile)
    created = {table: file_codecs(f"{delta_uri}/{table}") for table in TABLES}
    archive.event("Deleted", "1.1", "1.1.1", "1.1.1.1")
    for n in range(2):  # files for the compaction to fold together
        archive.event("Created", "3.1", "3.1.1", f"3.1.1.{n}")
        archive.build()
        publish(archive.lake_dir, delta_uri, watermark=archive.watermark, profile=profile)
    merged = {table: file_codecs(f"{delta_uri}/{table}") for table in TABLES}
    maintain(delta_uri)

    assert created == merged == {table: {codec} for table in TABLES}
    assert {table: file_codecs(f"{delta_uri}/{table}") for table in TABLES} == merged
    assert DeltaTable(f"{delta_uri}/instance").history(limit=1)[0]["operation"] == "OPTIMIZE"
    for table in TABLES:  # read by delta-rs and by delta-kernel-rs alike
        uri = f"{delta_uri}/{table}"
        assert len(delta_rows(uri)) == len(kernel_rows(uri)) == len(archive.mart_rows(table))


def test_local_paths_need_no_storage_options() -> None:
    assert storage_options_for("/tmp/lake/delta/instance") == {}
    assert storage_options_for("file:///tmp/x", {"a": "b"}) == {"a": "b"}


def test_azure_account_key_comes_from_the_environment_and_is_never_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    environ = {"AZURE_STORAGE_ACCOUNT_NAME": "acct", "AZURE_STORAGE_ACCOUNT_KEY": "s3cr3t=="}

    options = storage_options_for("az://dicom/delta", environ=environ, credential_factory=_no)

    assert options == {"account_name": "acct", "account_key": "s3cr3t=="}
    assert "s3cr3t" not in caplog.text


def test_azure_without_key_uses_an_azure_identity_token(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)

    class Credential:
        def get_token(self, scope: str) -> Any:
            assert scope == "https://storage.azure.com/.default"
            return type("Token", (), {"token": "eyJ-token"})()

    options = storage_options_for(
        "abfss://dicom@acct.dfs.core.windows.net/delta", environ={}, credential_factory=Credential
    )

    assert options == {"bearer_token": "eyJ-token"}
    assert "eyJ-token" not in caplog.text


def test_explicit_azure_options_win_and_http_only_for_an_http_endpoint() -> None:
    environ = {
        "AZURE_STORAGE_ACCOUNT_NAME": "devstoreaccount1",
        "AZURE_STORAGE_ACCOUNT_KEY": "env-key",
        "AZURE_STORAGE_ENDPOINT": "http://127.0.0.1:10000/devstoreaccount1",
    }
    options = storage_options_for(
        "az://c/p", {"account_key": "explicit"}, environ=environ, credential_factory=_no
    )
    assert options["account_key"] == "explicit"
    assert options["allow_http"] == "true"
    https = storage_options_for(
        "az://c/p",
        environ={"AZURE_STORAGE_SAS_TOKEN": "sv=x", "AZURE_STORAGE_ENDPOINT": "https://e/a"},
        credential_factory=_no,
    )
    assert "allow_http" not in https


def _no() -> Iterator[Any]:
    raise AssertionError("no token must be requested when a key is configured")


def test_publish_uses_the_default_location(
    archive: FakeArchive, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DICOM_LAKE_DELTA_URI", raising=False)
    result = publish(archive.lake_dir, watermark=archive.watermark)
    assert result.delta_uri == str((archive.lake_dir / "delta").resolve())
    assert_published(archive, result.delta_uri)
    assert delta_table_uri(result.delta_uri, "study").endswith("/delta/study")


def test_deletes_reach_tables_published_before_instance_history_existed(
    archive: FakeArchive, delta_uri: str
) -> None:
    # A first publication that stopped after `instance` (killed, or a storage error later on).
    publish(archive.lake_dir, delta_uri, watermark=archive.watermark, tables=["instance"])
    assert not DeltaTable.is_deltatable(f"{delta_uri}/instance_history")
    archive.event("Deleted", "1.1", "1.1.1", "1.1.1.0")
    archive.event("Deleted", "1.2", "1.2.1", "1.2.1.1")
    archive.build()

    result = publish(archive.lake_dir, delta_uri, watermark=archive.watermark)

    instance = next(t for t in result.tables if t.table == "instance")
    assert instance.deleted == 2
    assert_published(archive, delta_uri)


def test_a_publication_that_leaves_other_keys_than_the_mart_fails_loudly(
    archive: FakeArchive, delta_uri: str
) -> None:
    publish(archive.lake_dir, delta_uri, watermark=archive.watermark)
    # A row lost behind the publication's back, in a study no event will touch.
    DeltaTable(f"{delta_uri}/instance").delete("sop_instance_uid = '9.9.2.0'")
    archive.event("Created", "1.2", "1.2.1", "1.2.1.7")
    archive.build()

    with pytest.raises(PublicationMismatch, match=r"0 key\(s\) the mart lacks, 1 of its key"):
        publish(archive.lake_dir, delta_uri, watermark=archive.watermark)


def test_a_key_published_twice_fails_loudly_though_the_key_sets_agree(
    archive: FakeArchive, delta_uri: str
) -> None:
    publish(archive.lake_dir, delta_uri, watermark=archive.watermark)
    instance = DeltaTable(f"{delta_uri}/instance")
    # A copy of one row written behind the publication's back, in a study no event will touch.
    twin = instance.to_pyarrow_table(filters=[("sop_instance_uid", "=", "9.9.2.0")])
    write_deltalake(instance, twin, mode="append")
    archive.event("Created", "1.2", "1.2.1", "1.2.1.7")
    archive.build()

    with pytest.raises(
        PublicationMismatch, match=r"0 key\(s\) the mart lacks, 0 of its key\(s\) missing, 1 row"
    ):
        publish(archive.lake_dir, delta_uri, watermark=archive.watermark)
