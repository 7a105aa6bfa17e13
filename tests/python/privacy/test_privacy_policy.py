"""The privacy policy on real parts: the local service with the sample data, the job as a user
runs it (a subprocess), the DuckDB marts, the Delta tables read back by two readers, the landed
files. With the built-in profile no identifier of the sample data is left anywhere downstream,
while counts, modalities, date intervals and joins stay right; the key is never written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.parquet as pq
import pydicom
import pytest
from deltalake import DeltaTable
from support.dicom_factory import make_instance, stow
from support.lake_checks import copy_project
from support.readers import kernel_query

from extractor.lake import Lake
from extractor.privacy.keyed import KEY_VARIABLE, uid
from extractor.server import LocalDicomService, ServiceOptions
from extractor.server.samples import UPDATED_PATIENT_NAME, load_samples, sample_files

KEY = "test-only-privacy-key-0123456789abcdef"
PATIENT = {
    "PatientName": "Privacy^Patricia",
    "PatientID": "PRIV-7731",
    "PatientBirthDate": "19710304",
}
STUDIES = {
    "1.2.826.0.1.3680043.8.498.7701": "20200115",
    "1.2.826.0.1.3680043.8.498.7702": "20210620",
}
SEEDS = {"dicom_tags", "dicom_dictionary", "dicom_privacy", "dicom_privacy_profile"}
SHORT = 8
"""Identifiers shorter than this are looked for as whole values only: as substrings, `204`
would be found inside any long number."""


def dicom_lake(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "extractor", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "NO_COLOR": "1", **env},
    )


def project_copy(work: Path, name: str) -> Path:
    (work / name).mkdir()
    return copy_project(work / name)


def with_profile(project: Path, profile: str) -> Path:
    text = (project / "dbt_project.yml").read_text()
    (project / "dbt_project.yml").write_text(
        text.replace("  privacy_profile: none", f"  privacy_profile: {profile}")
    )
    return project


@pytest.fixture(scope="module", autouse=True)
def key() -> Iterator[None]:
    """The key in this process too: the tests compute the UIDs the policy gives."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(KEY_VARIABLE, KEY)
        yield


@pytest.fixture(scope="module")
def service() -> Iterator[LocalDicomService]:
    """The sample data (creates, a delete, a bulk update) and one patient with a birth date and
    two studies, whose dates' intervals the policy must keep."""
    with LocalDicomService(host="127.0.0.1", port=0, options=ServiceOptions()) as running:
        load_samples(running.url)
        stow(
            running.url,
            [
                make_instance(study, f"{study}.1", f"{study}.1.1", StudyDate=day, **PATIENT)
                for study, day in STUDIES.items()
            ],
        )
        yield running


@pytest.fixture(scope="module")
def identifiers() -> set[str]:
    """What must not be found: the sample data's names, IDs, birth dates and UIDs."""
    found = {UPDATED_PATIENT_NAME, *PATIENT.values(), *STUDIES, "1971-03-04"}
    for study in STUDIES:
        found |= {f"{study}.1", f"{study}.1.1"}
    for path in sample_files():
        dataset = pydicom.dcmread(path, stop_before_pixels=True, force=True)
        for keyword in (
            "PatientName",
            "PatientID",
            "PatientBirthDate",
            "ReferringPhysicianName",
            "AccessionNumber",
            "StudyInstanceUID",
            "SeriesInstanceUID",
            "SOPInstanceUID",
            "FrameOfReferenceUID",
        ):
            value = str(dataset.get(keyword, "") or "").strip()
            if len(value) > 1:  # an ID `1` cannot be told from any count or number
                found.add(value)
    return found


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("privacy")


@pytest.fixture(scope="module")
def outputs() -> list[str]:
    """Everything the commands printed, to look for the key in."""
    return []


def run(outputs: list[str], *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    finished = dicom_lake(*args, env={KEY_VARIABLE: KEY, **env})
    outputs += [finished.stdout, finished.stderr]
    return finished


@pytest.fixture(scope="module")
def refreshed(service: LocalDicomService, work: Path, outputs: list[str]) -> dict[str, Any]:
    """A lake built with no policy, then built again with the built-in profile, which the build
    notices and rebuilds everything for: what it held before, and the lake."""
    lake = work / "refreshed"
    project = project_copy(work, "refreshed-project")
    env = {"DICOM_SERVICE_URL": service.url, "DICOM_LAKE_DBT_PROJECT": str(project)}
    first = run(outputs, "run", "--lake", str(lake), "--lag", "0", env=env)
    assert first.returncode == 0, first.stderr
    before = facts(lake)
    with_profile(project, "basic")
    second = run(outputs, "build", "--lake", str(lake), env=env)
    assert second.returncode == 0, second.stderr
    assert "the privacy policy changed since the last build" in second.stderr
    return {"lake": lake, "before": before, "after": facts(lake), "project": project}


@pytest.fixture(scope="module")
def landed_protected(service: LocalDicomService, work: Path, outputs: list[str]) -> dict[str, Any]:
    """A lake whose landing zone applied the built-in profile."""
    lake = work / "landing"
    project = with_profile(project_copy(work, "landing-project"), "basic")
    env = {"DICOM_SERVICE_URL": service.url, "DICOM_LAKE_DBT_PROJECT": str(project)}
    finished = run(
        outputs, "run", "--lake", str(lake), "--lag", "0", "--protect-at-landing", env=env
    )
    assert finished.returncode == 0, finished.stderr
    return {"lake": lake, "facts": facts(lake), "project": project}


def query(lake: Path, sql: str) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(Lake(lake).warehouse), read_only=True) as connection:
        return connection.execute(sql).fetchall()


def facts(lake: Path) -> dict[str, Any]:
    """What the policy must keep true: counts, modalities, joins, the patient's dates."""
    patient = (
        "(select patient_id from instance where study_instance_uid in "
        f"('{next(iter(STUDIES))}', '{uid(next(iter(STUDIES)))}'))"
    )
    return {
        "counts": {
            table: query(lake, f"select count(*) from {table}")[0][0]
            for table in ("instance", "series", "study", "instance_history")
        },
        "modalities": query(lake, "select modality, count(*) from instance group by 1 order by 1"),
        "joined": query(
            lake,
            "select count(*) from instance"
            " join series using (partition_name, study_instance_uid, series_instance_uid)"
            " join study using (partition_name, study_instance_uid)",
        )[0][0],
        "dates": query(
            lake,
            "select study_date, patient_birth_date from instance"
            f" where patient_id = {patient} order by study_date",
        ),
    }


def leaves(value: Any) -> Iterator[str]:
    """Every value inside a cell as text: list elements, struct fields, JSON documents' values;
    dates both as DICOM writes them and as SQL shows them."""
    if value is None:
        return
    if isinstance(value, dict):
        for inner in value.values():
            yield from leaves(inner)
    elif isinstance(value, list | tuple):
        for inner in value:
            yield from leaves(inner)
    elif isinstance(value, date):
        yield value.isoformat()[:10]
        yield value.strftime("%Y%m%d")
    elif isinstance(value, str):
        yield value
        if value.startswith(("[", "{")):
            try:
                parsed = json.loads(value)
            except ValueError:
                parsed = None  # text that merely starts like JSON
            yield from leaves(parsed)
    else:
        yield str(value)


def leaked(
    rows: Iterator[dict[str, Any]] | list[dict[str, Any]], identifiers: set[str]
) -> set[str]:
    long = {identifier for identifier in identifiers if len(identifier) >= SHORT}
    found = set()
    for row in rows:
        for text in leaves(row):
            if text in identifiers:
                found.add(text)
            found |= {identifier for identifier in long if identifier in text}
    return found


def warehouse_rows(lake: Path) -> Iterator[dict[str, Any]]:
    with duckdb.connect(str(Lake(lake).warehouse), read_only=True) as connection:
        tables = [
            name
            for (name,) in connection.execute(
                "select table_name from information_schema.tables where table_schema = 'main'"
            ).fetchall()
            if name not in SEEDS
        ]
        assert {"instance", "series", "study", "instance_history", "dicom_value_errors"} <= set(
            tables
        )
        for table in tables:
            cursor = connection.execute(f'select * from "{table}"')
            names = [column[0] for column in cursor.description or []]
            for row in cursor.fetchall():
                yield {"table": table, **dict(zip(names, row, strict=True))}


def delta_tables(lake: Path) -> list[Path]:
    return sorted(log.parent for log in Lake(lake).root.glob("delta/**/_delta_log"))


def delta_rows(lake: Path) -> Iterator[dict[str, Any]]:
    tables = delta_tables(lake)
    assert {table.name for table in tables} >= {"instance", "series", "study", "instance_history"}
    for table in tables:
        yield from DeltaTable(str(table)).to_pyarrow_table().to_pylist()


def test_no_identifier_is_left_in_the_marts_or_the_delta_tables(refreshed, identifiers) -> None:
    lake = refreshed["lake"]
    assert leaked(warehouse_rows(lake), identifiers) == set()
    assert leaked(delta_rows(lake), identifiers) == set()
    views = {table.name: str(table) for table in delta_tables(lake)}
    assert leaked(kernel_query(views, "select * from instance"), identifiers) == set()


def test_the_scan_finds_the_identifiers_of_a_lake_without_a_policy(refreshed, identifiers) -> None:
    # the same scan over the first Delta versions, written before the policy: it must find them
    lake = refreshed["lake"]
    rows = [
        row
        for table in delta_tables(lake)
        for row in DeltaTable(str(table), version=0).to_pyarrow_table().to_pylist()
    ]
    found = leaked(rows, identifiers)
    assert {"CompressedSamples^CT1", "PRIV-7731", "Privacy^Patricia", *STUDIES} <= found


def test_counts_modalities_and_joins_stay_right(refreshed) -> None:
    before, after = refreshed["before"], refreshed["after"]
    assert after["counts"] == before["counts"]
    assert after["modalities"] == before["modalities"]
    assert after["joined"] == before["joined"] == before["counts"]["instance"]


def test_dates_move_but_their_intervals_stay(refreshed) -> None:
    before, after = refreshed["before"]["dates"], refreshed["after"]["dates"]
    assert [row[0] for row in before] == [date(2020, 1, 15), date(2021, 6, 20)]
    assert len(after) == 2 and after != before
    assert after[1][0] - after[0][0] == before[1][0] - before[0][0]
    assert [study - born for study, born in after] == [study - born for study, born in before]


def test_uids_are_replaced_consistently_across_tables(refreshed) -> None:
    lake = refreshed["lake"]
    study = next(iter(STUDIES))
    assert query(lake, f"select count(*) from study where study_instance_uid = '{uid(study)}'") == [
        (1,)
    ]
    assert query(
        lake, f"select count(*) from series where study_instance_uid = '{uid(study)}'"
    ) == [(1,)]
    # the UID inside the document is the column's
    documents = query(
        lake, f"select metadata from instance where study_instance_uid = '{uid(study)}'"
    )
    assert json.loads(documents[0][0])["0020000D"]["Value"] == [uid(study)]


def test_protected_documents_say_so(refreshed) -> None:
    (document,) = query(refreshed["lake"], "select metadata from instance limit 1")[0]
    elements = json.loads(document)
    assert elements["00120062"]["Value"] == ["YES"]
    assert elements["00120063"]["Value"][0].startswith("dicom-lake privacy policy ")
    assert elements["00280303"]["Value"] == ["MODIFIED"]


def test_vacuum_removes_the_older_versions(refreshed, identifiers, outputs) -> None:
    lake = refreshed["lake"]
    finished = run(outputs, "maintain", "--lake", str(lake), "--retention-hours", "0", env={})
    assert finished.returncode == 0, finished.stderr
    rows = [
        row
        for parquet in Lake(lake).root.glob("delta/**/*.parquet")
        for row in pq.read_table(parquet).to_pylist()
    ]
    assert rows and leaked(rows, identifiers) == set()


def test_landing_the_protected_feed_writes_no_identifier(landed_protected, identifiers) -> None:
    lake = landed_protected["lake"]
    files = sorted(Lake(lake).changefeed.glob("*.parquet"))
    rows = [row for path in files for row in pq.read_table(path).to_pylist()]
    assert rows and {row["protected_with"] for row in rows} != {None}
    assert leaked(rows, identifiers) == set()
    assert leaked(warehouse_rows(lake), identifiers) == set()
    assert leaked(delta_rows(lake), identifiers) == set()


def test_landing_and_build_protect_alike(landed_protected, refreshed) -> None:
    # the same policy and key give the same tables, wherever the policy was applied
    assert landed_protected["facts"] == refreshed["after"]
    sql = (
        "select study_instance_uid, series_instance_uid, sop_instance_uid, patient_id,"
        " patient_name, study_date, modality from instance order by all"
    )
    assert query(landed_protected["lake"], sql) == query(refreshed["lake"], sql)


def test_the_key_is_never_written(refreshed, landed_protected, outputs, work) -> None:
    assert outputs and not any(KEY in text for text in outputs)
    written = [path for path in work.rglob("*") if path.is_file()]
    assert any(path.suffix == ".json" and "_delta_log" in path.parts for path in written)
    assert [path for path in written if KEY.encode() in path.read_bytes()] == []


def test_a_policy_row_that_cannot_be_applied_stops_the_build(refreshed, work) -> None:
    project = project_copy(work, "bad-policy")
    (project / "seeds" / "dicom_privacy.csv").write_text(
        "attribute,private_creator,action\n00100010,,scramble\n0020000D,,drop\n"
    )
    finished = dicom_lake(
        "build",
        "--lake",
        str(refreshed["lake"]),
        "--dbt-project",
        str(project),
        env={KEY_VARIABLE: KEY},
    )
    assert finished.returncode == 11, finished.stderr
    assert (
        "seeds/dicom_privacy.csv line 2, column action: 'scramble' is not one of" in finished.stderr
    )
    assert (
        "line 3, column action: StudyInstanceUID is a key of the lake's tables" in finished.stderr
    )


def test_a_policy_without_its_key_stops_the_build(refreshed) -> None:
    environment = {name: value for name, value in os.environ.items() if name != KEY_VARIABLE}
    finished = subprocess.run(
        [
            sys.executable,
            "-m",
            "extractor",
            "build",
            "--lake",
            str(refreshed["lake"]),
            "--full-refresh",
            "--dbt-project",
            str(refreshed["project"]),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**environment, "NO_COLOR": "1"},
    )
    assert finished.returncode == 11, finished.stderr
    assert f"set {KEY_VARIABLE}" in finished.stderr


def test_protecting_at_landing_needs_a_policy(service, work) -> None:
    finished = dicom_lake(
        "extract",
        "--lake",
        str(work / "no-policy"),
        "--lag",
        "0",
        "--protect-at-landing",
        env={"DICOM_SERVICE_URL": service.url, KEY_VARIABLE: KEY},
    )
    assert finished.returncode == 11, finished.stderr
    assert "keeps everything" in finished.stderr
    assert not (work / "no-policy" / "landing" / "changefeed").exists()


def test_a_new_key_rebuilds_everything(refreshed, outputs) -> None:
    lake, study = refreshed["lake"], next(iter(STUDIES))
    env = {"DICOM_LAKE_DBT_PROJECT": str(refreshed["project"]), KEY_VARIABLE: KEY[::-1]}
    finished = run(outputs, "build", "--lake", str(lake), env=env)
    assert finished.returncode == 0, finished.stderr
    assert "the privacy policy changed since the last build" in finished.stderr
    assert query(lake, f"select count(*) from study where study_instance_uid = '{uid(study)}'") == [
        (0,)
    ]
    published = DeltaTable(str(Lake(lake).root / "delta" / "study")).to_pyarrow_table().to_pylist()
    assert uid(study) not in {row["study_instance_uid"] for row in published}
    assert len(published) == refreshed["before"]["counts"]["study"]
