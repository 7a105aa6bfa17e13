"""The whole job on real parts: the local service, extract, dbt build, Delta publication.

After each change to the archive the job runs again, and the Delta tables must equal the DuckDB
marts row for row, and the marts must hold exactly the instances the service holds.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from deltalake import DeltaTable
from support.dicom_factory import bulk_update, delete, make_instance, stow
from support.extracts import run_extract
from support.lake_checks import assert_delta_matches_marts, copy_project

from extractor.build import build
from extractor.delta import publish
from extractor.lake import Lake

STUDY_A, STUDY_B, STUDY_C = (
    "1.2.826.0.1.3680043.8.498.100",
    "1.2.826.0.1.3680043.8.498.200",
    ("1.2.826.0.1.3680043.8.498.300"),
)
SERIES_A1, SERIES_A2 = f"{STUDY_A}.1", f"{STUDY_A}.2"


def run_job(service_url: str, lake_dir: Path, project_dir: Path | None = None) -> None:
    run_extract(service_url, lake_dir, timeout=10)
    result = build(lake_dir, project_dir=project_dir)
    assert result.success, result
    publish(lake_dir)


def query(lake_dir: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(Lake(lake_dir).warehouse), read_only=True) as connection:
        return connection.execute(sql).fetchall()


def assert_lake_matches_service(service, lake_dir: Path) -> None:
    assert_delta_matches_marts(lake_dir, Lake(lake_dir).default_delta_uri)
    held = sorted(service.store.instance_keys())
    built = query(
        lake_dir,
        "select partition_name, study_instance_uid, series_instance_uid, sop_instance_uid "
        "from instance order by all",
    )
    assert built == held


@pytest.fixture
def archive(dicom_service):
    """Study A: series A1 (3 CT instances) and A2 (1 MR); study B: 1 CT instance."""
    stow(
        dicom_service.url,
        [
            *(
                make_instance(STUDY_A, SERIES_A1, f"{SERIES_A1}.{n}", InstanceNumber=n)
                for n in (1, 2, 3)
            ),
            make_instance(STUDY_A, SERIES_A2, f"{SERIES_A2}.1", Modality="MR"),
            make_instance(STUDY_B, f"{STUDY_B}.1", f"{STUDY_B}.1.1"),
        ],
    )
    return dicom_service


def test_the_lake_follows_the_archive_step_by_step(archive, lake_dir, tmp_path) -> None:
    url = archive.url
    run_job(url, lake_dir)
    assert_lake_matches_service(archive, lake_dir)
    assert query(
        lake_dir, f"select modalities_in_study from study where study_instance_uid = '{STUDY_A}'"
    ) == [(["CT", "MR"],)]

    # Inserts: one more instance in A1, a new study C.
    stow(url, [make_instance(STUDY_A, SERIES_A1, f"{SERIES_A1}.4"), make_instance(STUDY_C)])
    run_job(url, lake_dir)
    assert_lake_matches_service(archive, lake_dir)
    assert query(lake_dir, "select count(*) from study") == [(3,)]

    # A bulk update rewrites patient attributes on every instance of study A.
    bulk_update(url, [STUDY_A], {"00100010": {"vr": "PN", "Value": [{"Alphabetic": "New^Name"}]}})
    run_job(url, lake_dir)
    assert_lake_matches_service(archive, lake_dir)
    study = DeltaTable(Lake(lake_dir).default_delta_table("study")).to_pyarrow_table().to_pylist()
    names = {row["study_instance_uid"]: row["patient_name"] for row in study}
    assert names[STUDY_A] == "New^Name" and names[STUDY_B] == "Test^Patient"

    # Deletes: one instance, then a whole series; study A keeps only CT.
    delete(url, STUDY_A, SERIES_A1, f"{SERIES_A1}.2")
    delete(url, STUDY_A, SERIES_A2)
    run_job(url, lake_dir)
    assert_lake_matches_service(archive, lake_dir)
    assert query(
        lake_dir,
        "select series_count, instance_count, modalities_in_study from study "
        f"where study_instance_uid = '{STUDY_A}'",
    ) == [(1, 3, ["CT"])]
    series = DeltaTable(Lake(lake_dir).default_delta_table("series")).to_pyarrow_table()
    assert SERIES_A2 not in series.column("series_instance_uid").to_pylist()
    tombstones = query(lake_dir, "select count(*) from instance_history where is_deleted")
    assert tombstones == [(2,)]

    # A re-created instance is back; its history shows every version, tombstone included.
    stow(url, [make_instance(STUDY_A, SERIES_A1, f"{SERIES_A1}.2")])
    run_job(url, lake_dir)
    assert_lake_matches_service(archive, lake_dir)
    history = query(
        lake_dir,
        f"select action, valid_to is null from instance_history "
        f"where sop_instance_uid = '{SERIES_A1}.2' order by sequence",
    )
    assert history == [("Create", False), ("Update", False), ("Delete", False), ("Create", True)]

    # A new row in the tag seed is a new column, in the marts and in Delta.
    project = copy_project(tmp_path)
    with (project / "seeds" / "dicom_tags.csv").open("a") as seed:
        seed.write("00100021,IssuerOfPatientID,patient,issuer_of_patient_id,,,,,\n")
    run_job(url, lake_dir, project_dir=project)
    assert_lake_matches_service(archive, lake_dir)
    columns = DeltaTable(Lake(lake_dir).default_delta_table("study")).schema().to_arrow().names
    assert "issuer_of_patient_id" in columns

    # Nothing new: nothing committed.
    versions = {
        t: DeltaTable(Lake(lake_dir).default_delta_table(t)).version()
        for t in ("instance", "study")
    }
    run_job(url, lake_dir, project_dir=project)
    assert {
        t: DeltaTable(Lake(lake_dir).default_delta_table(t)).version() for t in versions
    } == versions
