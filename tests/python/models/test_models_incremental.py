"""Incremental models: after every batch, an incrementally built lake equals a full build, and
an incremental build rewrites only the rows of what changed.

Every model after staging takes in only the loads staged since its last build (load_id); these
batches move instances every way they can move.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
from support.feed_events import (
    MARTS,
    SECOND_EXTRACTION,
    assert_built,
    event,
    metadata,
    read,
)
from support.lake_checks import copy_project

from extractor.build import build
from extractor.lake import Lake
from extractor.landing import LandingZone

TABLES = [
    *MARTS,
    "metadata_quarantine",
    "feed_anomalies",
    "int_instance_events_ordered",
    "int_instance_tag_values",
    "int_instances_current",
]
# which build staged a row differs between a lake built batch by batch and one built at once
BOOKKEEPING = {"load_id"}
BAD_DATE = {"00080023": {"vr": "DA", "Value": ["20230230"]}}


def batches() -> list[list[dict[str, object]]]:
    third = SECOND_EXTRACTION.replace(day=4)
    fourth = SECOND_EXTRACTION.replace(day=5)
    return [
        [
            event(1, "Create", "p", metadata("p", **BAD_DATE)),
            event(2, "Create", "q", metadata("q", **BAD_DATE)),
            event(3, "Create", "r", metadata("r")),
            event(4, "Create", "s", metadata("s", series="X9"), series="X9"),
            event(5, "Create", "t", metadata("t")),
        ],
        [
            # p: the same sequence extracted again, its value now fixed: the error goes
            event(1, "Create", "p", metadata("p"), extracted_at=SECOND_EXTRACTION),
            # q: deleted: its row and its errors go
            event(6, "Delete", "q", None, extracted_at=SECOND_EXTRACTION),
            # r: re-extracted with metadata that is not JSON: keeps its previous attributes
            event(3, "Create", "r", "{bad", extracted_at=SECOND_EXTRACTION),
            # s: the only instance of series X9, deleted
            event(7, "Delete", "s", None, series="X9", extracted_at=SECOND_EXTRACTION),
            # t: an update with a malformed value
            event(8, "Update", "t", metadata("t", **BAD_DATE), extracted_at=SECOND_EXTRACTION),
        ],
        [
            # q: a Create with a lower sequence than its Delete lands late: no resurrection
            event(
                2,
                "Create",
                "q",
                metadata("q", **{"00080080": {"vr": "LO", "Value": ["Late"]}}),
                extracted_at=third,
            ),
            # s: created again
            event(9, "Create", "s", metadata("s", series="X9"), series="X9", extracted_at=third),
            # u: new
            event(10, "Create", "u", metadata("u"), extracted_at=third),
        ],
        [
            # r: valid metadata again, with a new value
            event(
                3,
                "Create",
                "r",
                metadata("r", **{"00080080": {"vr": "LO", "Value": ["Fixed"]}}),
                extracted_at=fourth,
            ),
        ],
    ]


def full_build_of(lake: Path, tmp_path: Path, name: str, project: Path | None = None) -> Path:
    full = tmp_path / name
    Lake(full).changefeed.mkdir(parents=True)
    for landed in Lake(lake).changefeed.glob("*.parquet"):
        shutil.copy(landed, Lake(full).changefeed / landed.name)
    assert_built(build(full, project_dir=project))
    return full


def assert_same(full: Path, lake: Path) -> None:
    """Same columns and rows (by column name: a column added to the seed comes last in a table
    built incrementally, in its seed place in a full build)."""
    for table in TABLES:
        names = [
            name
            for (name,) in read(
                full,
                "select column_name from information_schema.columns where table_name = ? "
                "order by column_name",
                [table],
            )
        ]
        listed = ", ".join(f'"{name}"' for name in names if name not in BOOKKEEPING)
        ordered = f"select {listed} from {table} order by all"
        assert read(full, ordered) == read(lake, ordered), table


def test_incremental_marts_equal_a_full_build_after_every_batch(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    for number, batch in enumerate(batches()):
        LandingZone(lake).land(batch)
        assert_built(build(lake))
        assert_same(full_build_of(lake, tmp_path, f"full-{number}"), lake)
    present = read(lake, "select sop_instance_uid from instance order by 1")
    assert present == [("p",), ("r",), ("s",), ("t",), ("u",)]
    assert read(lake, "select institution_name from instance where sop_instance_uid = 'r'") == [
        ("Fixed",)
    ]
    errors = read(lake, "select distinct sop_instance_uid from dicom_value_errors order by 1")
    assert errors == [("t",)]


def test_a_new_seed_row_fills_the_rows_already_built(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    software = {"00181020": {"vr": "LO", "Value": ["1.0"]}}
    LandingZone(lake).land([event(1, "Create", "a", metadata("a", **software))])
    assert_built(build(lake))
    project = copy_project(tmp_path)
    with (project / "seeds" / "dicom_tags.csv").open("a") as seed:
        seed.write("00181020,SoftwareVersions,series,software_versions,,,,,\n")
    # nothing new has landed: the existing row must still get the new column's value
    assert_built(build(lake, project_dir=project))
    assert read(lake, "select software_versions from instance") == [(["1.0"],)]
    assert read(lake, "select software_versions from series") == [(["1.0"],)]
    assert_same(full_build_of(lake, tmp_path, "full", project), lake)


# a text column of each model after staging, overwritten by the test to mark rows no build may
# rewrite; the rows are those of study S1, which the second batch does not touch
MARKED = {
    "int_instance_events_ordered": "file_path",
    "int_instances_current": "file_path",
    "int_instance_tag_values": "declared_vr_patient_id",
    "instance": "file_path",
    "instance_history": "feed_state",
    "dicom_value_errors": "reason",
    "series": "series_description",
    "study": "study_description",
    "feed_anomalies": "reason",
    "metadata_quarantine": "reason",
}


def test_an_incremental_build_leaves_unchanged_rows_alone(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    LandingZone(lake).land(
        [
            event(1, "Create", "u", metadata("u", **BAD_DATE)),
            event(2, "Create", "v", "{bad"),
            event(3, "Frobnicate", "w", None),
            event(4, "Create", "c", metadata("c", study="S2"), study="S2"),
        ],
    )
    assert_built(build(lake))
    with duckdb.connect(str(Lake(lake).warehouse)) as connection:
        for table, column in MARKED.items():
            marked = connection.execute(
                f"update {table} set {column} = 'untouched' where study_instance_uid = 'S1'"
            ).fetchall()
            assert marked[0][0] > 0, table
    changed = metadata("c", study="S2", **{"00080080": {"vr": "LO", "Value": ["Changed"]}})
    update = event(5, "Update", "c", changed, study="S2", extracted_at=SECOND_EXTRACTION)
    LandingZone(lake).land([update])
    assert_built(build(lake))
    assert_built(build(lake, force=True))  # dbt run with nothing new rewrites nothing either
    for table, column in MARKED.items():
        rows = read(lake, f"select {column} from {table} where study_instance_uid = 'S1'")
        assert rows and all(row == ("untouched",) for row in rows), table
    assert read(lake, "select institution_name from instance where sop_instance_uid = 'c'") == [
        ("Changed",)
    ]


def test_documents_are_read_from_where_they_landed(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    first = [event(1, "Create", "u", metadata("u")), event(2, "Create", "v", "{bad")]
    LandingZone(lake).land(first)
    assert_built(build(lake))
    landed = {path.name for path in Lake(lake).changefeed.glob("*.parquet")}
    # staging copies no text: it names the landed file and row
    staged = read(lake, "select metadata, landed_file, landed_row from stg_landing__changefeed")
    assert {(text, name in landed, row) for text, name, row in staged} == {
        (None, True, 0),
        (None, True, 1),
    }
    # a moved lake still finds them, for the instance and for the quarantine
    moved = tmp_path / "elsewhere" / "lake"
    moved.parent.mkdir()
    shutil.move(lake, moved)
    later = [
        event(3, "Create", "w", metadata("w")),
        # u's own document again, read in its moved file: the update is unusable
        event(4, "Update", "u", "{bad", extracted_at=SECOND_EXTRACTION),
    ]
    LandingZone(moved).land(later)
    assert_built(build(moved))
    instances = "select sop_instance_uid, last_sequence, metadata from instance order by 1"
    assert read(moved, instances) == [
        ("u", 4, metadata("u")),
        ("v", 2, None),
        ("w", 3, metadata("w")),
    ]
    assert read(moved, "select sequence, metadata from metadata_quarantine order by 1") == [
        (2, "{bad"),
        (4, "{bad"),
    ]


def test_a_lake_staged_before_landed_rows_were_kept_builds_on(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    LandingZone(lake).land([event(1, "Create", "u", metadata("u"))])
    assert_built(build(lake))
    # staging as an earlier version left it: the text copied, no landed row (the columns an
    # incremental build then appends are null)
    with duckdb.connect(str(Lake(lake).warehouse)) as connection:
        connection.execute(
            "update stg_landing__changefeed set metadata = ?, landed_file = null,"
            " landed_row = null",
            [metadata("u")],
        )
    # an unusable update makes the instance take its attributes from the old staged row again
    LandingZone(lake).land([event(2, "Update", "u", "{bad", extracted_at=SECOND_EXTRACTION)])
    assert_built(build(lake))
    assert read(lake, "select last_sequence, metadata, patient_id from instance") == [
        (2, metadata("u"), "PID-1")
    ]
    assert read(lake, "select metadata from metadata_quarantine") == [("{bad",)]
