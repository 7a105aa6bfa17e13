"""The ADF template's tables: its documented queries run unchanged and agree with the marts.

The job runs with `--adf-tables` on the local service (file paths on, as Azure sends them),
through inserts, a bulk update, deletes and a re-create. The queries of the Microsoft Learn
guide run as written, read by DuckDB's delta extension (which, like Spark, resolves column names
whatever their case) over `<delta>/adf/`; the answers must agree row for row with the native
tables, and with the dbt views the ADF tables publish.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC
from pathlib import Path
from typing import Any

import duckdb
import pytest
from deltalake import DeltaTable
from support.dicom_factory import bulk_update, delete, make_instance, stow
from support.fabric import invisible_attributes
from support.jobs import run_clean
from support.lake_checks import delta_rows
from support.readers import kernel_query

from extractor.delta import ADF_TABLES, TABLES, maintain
from extractor.lake import Lake
from extractor.server import LocalDicomService, ServiceOptions

STUDY_A, STUDY_B = "1.2.826.0.1.3680043.8.498.610", "1.2.826.0.1.3680043.8.498.620"
STUDY_C = "1.2.826.0.1.3680043.8.498.630"  # never changes
SERIES_A1, SERIES_A2, SERIES_B1 = f"{STUDY_A}.1", f"{STUDY_A}.2", f"{STUDY_B}.1"
# The template's columns (../shared/spec/adf-template-schema.md), in its order
INSTANCE_COLUMNS = [
    "partitionName",
    "studyinstanceuid",
    "seriesinstanceuid",
    "sopinstanceuid",
    "lastModifiedTimestamp",
    "studydate",
    "studydate_formatted",
    "studydescription",
    "issuerofpatientid",
    "patientid",
    "patientname",
    "modality",
    "sopclassuid",
    "filepath",
    "metadata",
    "metadata_string",
    "created_date",
    "patientbirthdate",
    "accessionnumber",
    "referringphysicianname",
    "modalitiesinstudy",
    "performedprocedurestepstartdate",
    "manufacturermodelname",
    "studytime",
    "timezoneoffsetfromutc",
    "numberofstudyrelatedseries",
    "numberofstudyrelatedinstances",
    "seriesnumber",
    "seriesdescription",
    "numberofseriesrelatedinstances",
    "bodypartexamined",
    "laterality",
    "seriesdate",
    "seriestime",
    "instancenumber",
    "documenttitle",
]
SERIES_COLUMNS = [
    "partitionName",
    "studyInstanceUid",
    "seriesInstanceUid",
    "lastModifiedTimestamp",
    "studyDate",
    "studyDescription",
    "issuerOfPatientId",
    "patientId",
    "patientName",
    "modality",
    "instanceCount",
]
STUDY_COLUMNS = [
    "partitionName",
    "studyInstanceUid",
    "lastModifiedTimestamp",
    "studyDate",
    "studyDescription",
    "issuerOfPatientId",
    "patientId",
    "patientName",
    "seriesCount",
    "instanceCount",
]


@pytest.fixture
def archive() -> Iterator[LocalDicomService]:
    options = ServiceOptions(file_path_prefix="dicom/files")
    with LocalDicomService(host="127.0.0.1", port=0, options=options) as service:
        stow(
            service.url,
            [
                *(
                    make_instance(
                        STUDY_A,
                        SERIES_A1,
                        f"{SERIES_A1}.{n}",
                        IssuerOfPatientID="HOSPITAL",
                        ImageType=["ORIGINAL", "PRIMARY"],
                    )
                    for n in (1, 2, 3)
                ),
                make_instance(STUDY_A, SERIES_A2, f"{SERIES_A2}.1", Modality="MR"),
                make_instance(STUDY_B, SERIES_B1, f"{SERIES_B1}.1", StudyDescription="Chest"),
                make_instance(STUDY_C, f"{STUDY_C}.1", f"{STUDY_C}.1.1"),
            ],
        )
        yield service


def adf_views(lake_dir: Path) -> dict[str, str]:
    delta = Lake(lake_dir).default_delta_uri
    return {table: f"{delta}/{ADF_TABLES[table].name}" for table in ADF_TABLES}


def native(lake_dir: Path, table: str) -> str:
    return Lake(lake_dir).default_delta_table(table)


def published_counts(stdout: str) -> dict[str, tuple[int, int]]:
    """`delta  <table>  version N: U upserted, D deleted` lines -> {table: (U, D)}."""
    lines = re.findall(r"^delta\s+(\S+)\s+.*?: ([\d,]+) upserted, ([\d,]+) deleted", stdout, re.M)
    return {table: (int(u.replace(",", "")), int(d.replace(",", ""))) for table, u, d in lines}


def assert_adf_agrees_with_the_marts(lake_dir: Path) -> None:
    views = adf_views(lake_dir)
    # The guide's queries, as written
    everything = kernel_query(views, "SELECT * FROM instance")
    assert list(everything[0]) == INSTANCE_COLUMNS
    paths = kernel_query(views, "SELECT sopInstanceUid, filePath FROM instance")
    instances = delta_rows(native(lake_dir, "instance"))
    assert sorted((row["sopinstanceuid"], row["filepath"]) for row in paths) == sorted(
        (row["sop_instance_uid"], row["file_path"]) for row in instances
    )
    assert all(row["filepath"].startswith("dicom/files/") for row in paths)
    series = kernel_query(views, "SELECT * FROM series")
    assert list(series[0]) == SERIES_COLUMNS
    assert sorted((r["seriesInstanceUid"], r["instanceCount"]) for r in series) == sorted(
        (r["series_instance_uid"], r["instance_count"])
        for r in delta_rows(native(lake_dir, "series"))
    )
    studies = kernel_query(views, "SELECT * FROM study")
    assert list(studies[0]) == STUDY_COLUMNS
    assert sorted(
        (r["studyInstanceUid"], r["patientName"], r["seriesCount"], r["instanceCount"])
        for r in studies
    ) == sorted(
        (r["study_instance_uid"], r["patient_name"], r["series_count"], r["instance_count"])
        for r in delta_rows(native(lake_dir, "study"))
    )
    # Each ADF table holds exactly what its dbt view holds, all of it visible in Fabric's SQL
    # endpoint (the metadata map through the template's own metadata_string).
    for table in ADF_TABLES.values():
        assert invisible_attributes(f"{Lake(lake_dir).default_delta_uri}/{table.name}") == []
        published = DeltaTable(f"{Lake(lake_dir).default_delta_uri}/{table.name}")
        assert _rows(published.to_pyarrow_table().to_pylist()) == _rows(
            _view_rows(lake_dir, table.mart)
        ), table.name


def _view_rows(lake_dir: Path, view: str) -> list[dict[str, Any]]:
    with duckdb.connect(str(Lake(lake_dir).warehouse), read_only=True) as connection:
        connection.execute("set TimeZone = 'UTC'")
        return connection.sql(f"select * from main.{view}").to_arrow_table().to_pylist()


def _rows(rows: list[dict[str, Any]]) -> list[str]:
    def normal(value: Any) -> Any:
        if hasattr(value, "astimezone"):
            return value.astimezone(UTC)
        if isinstance(value, list) and value and isinstance(value[0], tuple):
            return dict(value)  # a map, as pyarrow gives it
        return value

    return sorted(repr({key: normal(value) for key, value in row.items()}) for row in rows)


def test_the_template_queries_run_on_the_adf_tables_through_changes(
    archive: LocalDicomService, lake_dir: Path
) -> None:
    url = archive.url
    first = run_clean(url, lake_dir, "--adf-tables")
    assert_adf_agrees_with_the_marts(lake_dir)
    instances = kernel_query(adf_views(lake_dir), "select * from instance")
    row = next(row for row in instances if row["sopinstanceuid"] == f"{SERIES_A1}.1")
    assert (row["studydate"], str(row["studydate_formatted"])) == ("20240131", "2024-01-31")
    assert row["issuerofpatientid"] == "HOSPITAL" and row["patientname"] == "Test^Patient"
    assert row["metadata"]["00080008"] == {"vr": "CS", "Value": ["ORIGINAL", "PRIMARY"]}
    assert '"00100021":{"vr":"LO","Value":["HOSPITAL"]}' in row["metadata_string"]
    assert published_counts(first.stdout)["adf/instance"] == (6, 0)

    # A bulk update, deletes (an instance, a whole series), a re-create, a new study.
    bulk_update(url, [STUDY_A], {"00100010": {"vr": "PN", "Value": [{"Alphabetic": "New^Name"}]}})
    delete(url, STUDY_A, SERIES_A1, f"{SERIES_A1}.2")
    delete(url, STUDY_A, SERIES_A2)
    delete(url, STUDY_B, SERIES_B1, f"{SERIES_B1}.1")
    stow(url, [make_instance(STUDY_B, SERIES_B1, f"{SERIES_B1}.1", StudyDescription="Chest CT")])
    second = run_clean(url, lake_dir, "--adf-tables")

    assert_adf_agrees_with_the_marts(lake_dir)
    counts = published_counts(second.stdout)
    # The ADF tables take over exactly what their marts' MERGE changed: study C is not rewritten.
    assert counts["instance"] == (3, 2)
    for table in ADF_TABLES:
        assert counts[f"adf/{table}"] == counts[table], table
    studies = kernel_query(
        adf_views(lake_dir), "select studyInstanceUid, patientName, studyDescription from study"
    )
    described = [(r["studyInstanceUid"], r["patientName"], r["studyDescription"]) for r in studies]
    assert sorted(described) == [
        (STUDY_A, "New^Name", None),
        (STUDY_B, "Test^Patient", "Chest CT"),
        (STUDY_C, "Test^Patient", None),
    ]

    # Nothing new: nothing committed to any table.
    third = run_clean(url, lake_dir, "--adf-tables")
    assert third.returncode == 99


def test_adf_tables_turned_on_later_are_filled_from_the_current_state(
    archive: LocalDicomService, lake_dir: Path
) -> None:
    run_clean(archive.url, lake_dir)
    assert not Path(adf_views(lake_dir)["instance"]).exists()
    delete(archive.url, STUDY_A, SERIES_A2)
    run_clean(archive.url, lake_dir, "--adf-tables")
    assert_adf_agrees_with_the_marts(lake_dir)
    # Upkeep covers the ADF tables too.
    maintained = {report.table for report in maintain(Lake(lake_dir).default_delta_uri)}
    assert maintained == {*TABLES, *(table.name for table in ADF_TABLES.values())}
