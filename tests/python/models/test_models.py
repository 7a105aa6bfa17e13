"""The dbt models on real DuckDB files: land change-feed Parquet, run build(), read the marts.

One scenario lake is built twice (incrementally, as files land) and shared by most tests; a
second lake gets the same files in one full build and must give the same marts.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import date, datetime, time
from pathlib import Path

import duckdb
import pytest
from support.feed_events import (
    MARTS,
    SECOND_EXTRACTION,
    assert_built,
    at,
    columns,
    event,
    first_batch,
    metadata,
    read,
    second_batch,
)
from support.lake_checks import copy_project

from extractor.build import (
    BuildResult,
    EmptyLandingZoneError,
    SeedError,
    build,
    project_dir,
    run_dbt,
)
from extractor.lake import Lake
from extractor.landing import LandingZone


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    """The scenario lake, built after each of two batches (the second build is incremental)."""
    lake = tmp_path_factory.mktemp("scenario") / "lake"
    LandingZone(lake).land(first_batch())
    first = build(lake)
    assert_built(first)
    first_instances = read(lake, "select sop_instance_uid from instance order by 1")
    LandingZone(lake).land(second_batch())
    second = build(lake)
    assert_built(second)
    yield {"lake": lake, "first": first, "second": second, "first_instances": first_instances}


@pytest.fixture(scope="module")
def lake(scenario: dict[str, object]) -> Path:
    return scenario["lake"]  # type: ignore[return-value]


def instance_row(lake: Path, sop: str, *names: str) -> tuple:
    rows = read(
        lake,
        f"select {', '.join(names)} from instance where sop_instance_uid = ?",
        [sop],
    )
    assert len(rows) == 1, rows
    return rows[0]


def test_existence_follows_the_highest_sequence(lake: Path, scenario: dict[str, object]) -> None:
    assert scenario["first_instances"] == [("a",), ("c",), ("g",), ("h",), ("i",), ("j",)]
    # b deleted; d's stale Create (lower sequence, later file) does not resurrect it;
    # k exists although its metadata is quarantined; c was deleted then created again
    assert read(lake, "select sop_instance_uid from instance order by 1") == [
        ("a",),
        ("c",),
        ("g",),
        ("h",),
        ("i",),
        ("j",),
        ("k",),
    ]
    assert instance_row(lake, "c", "last_sequence", "last_action", "created_at") == (
        13,
        "Create",
        at(13),
    )
    assert instance_row(lake, "a", "last_sequence", "last_modified") == (10, at(10))


def test_staging_deduplicates_sequences(lake: Path) -> None:
    assert read(lake, "select count(*), count(distinct sequence) from stg_landing__changefeed") == [
        (20, 20)
    ]


def test_attributes_come_from_the_latest_extracted_metadata(lake: Path) -> None:
    assert instance_row(lake, "a", "institution_name", "metadata_extracted_at") == (
        "New",
        SECOND_EXTRACTION,
    )
    assert instance_row(lake, "c", "institution_name") == ("Reborn",)
    stored = instance_row(lake, "a", "metadata")[0]
    assert json.loads(stored)["00080080"]["Value"] == ["New"]


def test_values_are_typed_by_vr(lake: Path) -> None:
    row = instance_row(
        lake,
        "a",
        "patient_name",
        "patient_name_ideographic",
        "patient_name_phonetic",
        "referring_physician_name",
        "patient_birth_date",
        "study_date",
        "study_time",
        "acquisition_date_time",
        "series_number",
        "instance_number",
        "rows",
        "columns",
        "slice_thickness",
        "pixel_spacing",
        "image_type",
        "sop_class_uid",
        "manufacturer",
    )
    assert row == (
        "Doe^Jane",
        "ドウ^ジェーン",
        "do^jen",
        "House^Gregory",
        date(1980, 2, 29),
        date(2024, 3, 1),
        time(8, 15),
        datetime(2024, 3, 1, 8, 15, 30, 250000),
        3,
        12,
        512,
        256,
        1.25,
        [0.5, 0.25],
        ["ORIGINAL", "PRIMARY", "AXIAL"],
        "1.2.840.10008.5.1.4.1.1.2",
        None,
    )
    types = dict(
        read(
            lake,
            "select column_name, data_type from information_schema.columns "
            "where table_name = 'instance'",
        )
    )
    assert types["study_date"] == "DATE"
    assert types["study_time"] == "TIME"
    assert types["acquisition_date_time"] == "TIMESTAMP"
    assert types["instance_number"] == "BIGINT"
    assert types["slice_thickness"] == "DOUBLE"
    assert types["image_type"] == "VARCHAR[]"
    assert types["pixel_spacing"] == "DOUBLE[]"
    assert types["last_sequence"] == "BIGINT"


def test_malformed_values_become_null_and_are_listed(
    lake: Path, scenario: dict[str, object]
) -> None:
    row = instance_row(
        lake,
        "i",
        "content_date",
        "instance_number",
        "image_type",
        "pixel_spacing",
        "content_time",
        "study_date",
    )
    assert row == (None, None, ["DERIVED", "SECONDARY"], [0.5, None], None, date(2024, 3, 1))
    errors = read(
        lake,
        "select sop_instance_uid, column_name, vr, raw_value, malformed_value_count "
        "from dicom_value_errors order by column_name",
    )
    assert errors == [
        ("i", "content_date", "DA", '["20230230"]', 1),
        ("i", "content_time", "TM", '["256000"]', 1),
        ("i", "instance_number", "IS", '["abc"]', 1),
        ("i", "pixel_spacing", "DS", '["0.5","wide"]', 1),
    ]
    second: BuildResult = scenario["second"]  # type: ignore[assignment]
    assert "test.dicom_lake.assert_no_malformed_dicom_values" in second.warned


def test_invalid_metadata_is_quarantined_and_the_rest_builds(
    lake: Path, scenario: dict[str, object]
) -> None:
    assert read(
        lake,
        "select sequence, sop_instance_uid, reason, metadata from metadata_quarantine "
        "order by sequence",
    ) == [
        (17, "j", "invalid JSON", "{not json"),
        (21, "k", "JSON is not an object", "[1, 2]"),
    ]
    assert instance_row(lake, "j", "modality", "metadata", "last_sequence") == (None, None, 17)
    second: BuildResult = scenario["second"]  # type: ignore[assignment]
    assert "test.dicom_lake.assert_no_quarantined_metadata" in second.warned


def test_series_and_studies_disappear_when_emptied(lake: Path) -> None:
    assert read(lake, "select study_instance_uid, series_instance_uid from series order by 2") == [
        ("S1", "X1"),
        ("S1", "X3"),
    ]
    assert read(lake, "select study_instance_uid from study") == [("S1",)]


def test_series_rollup(lake: Path) -> None:
    rows = read(
        lake,
        "select series_instance_uid, modality, series_description, instance_count, "
        "first_instance_created_at, last_instance_created_at, last_sequence, last_modified "
        "from series order by series_instance_uid",
    )
    assert rows == [
        # X1: a, c, i, j, k exist; the Delete of d (sequence 20) is its latest event;
        # j, k have no usable metadata, so the attributes come from c (sequence 13)
        ("X1", "CT", "AXIAL", 5, at(1), at(21), 21, at(21)),
        # X3: g was updated last (sequence 16), so its description wins over h's
        ("X3", "MR", "from g", 2, at(7), at(8), 16, at(16)),
    ]
    assert "institution_name" in columns(lake, "series")
    assert "patient_name" not in columns(lake, "series")


def test_study_rollup(lake: Path) -> None:
    rows = read(
        lake,
        "select study_instance_uid, patient_name, patient_id, study_date, accession_number, "
        "modalities_in_study, series_count, instance_count, last_sequence from study",
    )
    assert rows == [("S1", "Doe^Jane", "PID-1", date(2024, 3, 1), "ACC-1", ["CT", "MR"], 2, 7, 21)]
    assert "modality" not in columns(lake, "study")


def test_instance_history(lake: Path) -> None:
    rows = read(
        lake,
        "select sequence, action, is_deleted, valid_from, valid_to, is_current, last_sequence "
        "from instance_history where sop_instance_uid = 'c' order by sequence",
    )
    assert rows == [
        (3, "Create", False, at(3), at(12), False, 12),
        (12, "Delete", True, at(12), at(13), False, 13),
        (13, "Create", False, at(13), None, True, 13),
    ]
    # d: the stale Create comes first in sequence order, the tombstone is current
    assert read(
        lake,
        "select sequence, is_deleted, valid_to from instance_history "
        "where sop_instance_uid = 'd' order by sequence",
    ) == [(5, False, at(20)), (20, True, None)]
    assert read(
        lake,
        "select count(*) from instance_history where action not in ('Create', 'Update', 'Delete')",
    ) == [(0,)]


COUNTS_AS_OF = """
with versions_at as (
    select *
    from instance_history
    where valid_from <= $as_of and (valid_to is null or valid_to > $as_of)
),
live as (
    select * from versions_at where not is_deleted
)
select
    count(distinct (partition_name, study_instance_uid)) as studies,
    count(distinct (partition_name, study_instance_uid, series_instance_uid)) as series,
    count(*) as instances
from live
"""


def test_counts_as_of_any_time_from_history(lake: Path) -> None:
    def counts(as_of: datetime) -> tuple:
        with duckdb.connect(str(Lake(lake).warehouse), read_only=True) as connection:
            return connection.execute(COUNTS_AS_OF, {"as_of": as_of}).fetchall()[0]

    # after sequence 9: a b c d e f g h i exist in S1 (X1, X2, X3) and S2 (Y1)
    assert counts(at(9)) == (2, 4, 9)
    # now: the marts
    assert counts(at(100)) == (
        read(lake, "select count(*) from study")[0][0],
        read(lake, "select count(*) from series")[0][0],
        read(lake, "select count(*) from instance")[0][0],
    )
    # the query is the one documented in docs/models.md
    documented = (project_dir() / "docs" / "models.md").read_text()
    assert "valid_from <= $as_of and (valid_to is null or valid_to > $as_of)" in documented


def test_incremental_build_equals_full_build(lake: Path, tmp_path: Path) -> None:
    full = tmp_path / "lake"
    Lake(full).changefeed.mkdir(parents=True)
    for landed in Lake(lake).changefeed.glob("*.parquet"):
        shutil.copy(landed, Lake(full).changefeed / landed.name)
    assert_built(build(full))
    for mart in [*MARTS, "metadata_quarantine"]:
        ordered = f"select * from {mart} order by all"
        assert read(full, ordered) == read(lake, ordered), mart


def test_rebuild_without_new_files_changes_nothing(lake: Path) -> None:
    before = {mart: read(lake, f"select * from {mart} order by all") for mart in MARTS}
    assert_built(build(lake))
    after = {mart: read(lake, f"select * from {mart} order by all") for mart in MARTS}
    assert after == before


def test_a_new_seed_row_adds_a_column(tmp_path: Path) -> None:
    project = copy_project(tmp_path)
    with (project / "seeds" / "dicom_tags.csv").open("a") as seed:
        seed.write("00181020,SoftwareVersions,series,software_versions,,,,,\n")
        seed.write("00189073,AcquisitionDuration,instance,acquisition_duration,,,,,\n")
    lake = tmp_path / "lake"
    LandingZone(lake).land(
        [
            event(
                1,
                "Create",
                "a",
                metadata(
                    "a",
                    **{
                        "00181020": {"vr": "LO", "Value": ["1.0", "2.1"]},
                        "00189073": {"vr": "FD", "Value": [12.5]},
                    },
                ),
            ),
        ],
    )
    assert_built(build(lake, project_dir=project))
    assert read(lake, "select software_versions, acquisition_duration from instance") == [
        (["1.0", "2.1"], 12.5),
    ]
    assert read(lake, "select software_versions from series") == [(["1.0", "2.1"],)]


def test_tag_keys_written_in_lower_case_are_read(tmp_path: Path) -> None:
    lower = {key.lower(): value for key, value in json.loads(metadata("a")).items()}
    both = json.loads(metadata("b"))
    both["0008103e"] = {"vr": "LO", "Value": ["the lower-case copy"]}  # upper case wins
    lake = tmp_path / "lake"
    LandingZone(lake).land(
        [
            event(1, "Create", "a", json.dumps(lower)),
            event(2, "Create", "b", json.dumps(both)),
        ]
    )
    assert_built(build(lake))
    assert read(
        lake,
        "select sop_instance_uid, series_description, study_instance_uid from instance order by 1",
    ) == [("a", "AXIAL", "S1"), ("b", "AXIAL", "S1")]
    assert read(lake, "select count(*) from dicom_value_errors") == [(0,)]


def test_a_bad_seed_row_stops_the_build_before_dbt_runs(tmp_path: Path) -> None:
    project = copy_project(tmp_path)
    with (project / "seeds" / "dicom_tags.csv").open("a") as seed:
        seed.write("00181020,SoftwareVersions,series,softwareversions,,,,,\n")
    lines = len((project / "seeds" / "dicom_tags.csv").read_text().splitlines())
    lake = tmp_path / "lake"
    LandingZone(lake).land([event(1, "Create", "a", metadata("a"))])

    with pytest.raises(SeedError) as raised:
        build(lake, project_dir=project)

    assert str(raised.value.problems[0]) == (
        f"seeds/dicom_tags.csv line {lines}, column column_name: 'softwareversions' is not the"
        " snake_case of the keyword: software_versions"
    )
    assert not Lake(lake).warehouse.exists()  # no model ran, nor dbt at all

    # dbt run by hand has the same guard: the singular test, its failing rows named
    outcome = run_dbt(lake, ["build"], project_dir=project)
    node = "test.dicom_lake.assert_dicom_tags_seed_is_valid"
    failed = {r.node.unique_id: r.message for r in outcome.result if r.status == "fail"}
    assert node in failed


def test_empty_landing_zone_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(EmptyLandingZoneError, match="holds no Parquet file"):
        build(tmp_path / "lake")
