"""The Orthanc source against a real Orthanc (Debian's packages, started here on 127.0.0.1).

After every change to the archive (uploads, deleting an instance, a series, a patient, modifying
a study and deleting the original, re-uploading a deleted instance) the job runs again, and the
Delta `instance` table must hold exactly the instances Orthanc lists, instance for instance.
"""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pydicom
import pytest
from deltalake import DeltaTable
from support.lake_checks import assert_delta_matches_marts
from support.orthanc_server import OrthancInstall, OrthancServer, find_orthanc

from extractor.build import build
from extractor.delta import publish
from extractor.lake import Lake
from extractor.landing import LandingZone
from extractor.server.samples import sample_files
from extractor.sources import AuthFailure, Batches, SourceError, make_session
from extractor.sources.orthanc import (
    ORTHANC_PARTITION,
    OrthancSettings,
    basic_auth_from_env,
    extract_orthanc,
    landed_sequence,
    orthanc_seq,
    parse_orthanc_date,
    reconcile,
)
from extractor.sources.orthanc.client import single_object_text
from extractor.sources.orthanc.reconcile import reconciliation_due, record_reconciliation
from extractor.sources.orthanc.sequences import SEQUENCE_SHIFT


@pytest.fixture(scope="session")
def orthanc_install() -> OrthancInstall:
    install, why = find_orthanc()
    if install is None:
        pytest.skip(f"no Orthanc for the Orthanc tests: {why}")
    return install


@pytest.fixture
def orthanc(orthanc_install: OrthancInstall, tmp_path: Path) -> Iterator[OrthancServer]:
    with OrthancServer(orthanc_install, tmp_path / "orthanc") as server:
        yield server


def run_job(server: OrthancServer, lake: Path, **options: Any) -> Any:
    settings = OrthancSettings(url=server.url, **options)
    session = make_session(server.session.auth, settings.max_retries)  # type: ignore[arg-type]
    try:
        summary = extract_orthanc(settings, session, LandingZone(lake))
    finally:
        session.close()
    if LandingZone(lake).watermark() is not None:
        result = build(lake)
        assert result.success, result
        publish(lake)
    return summary


def delta_instance_keys(lake: Path) -> list[tuple[str, str, str]]:
    rows = DeltaTable(Lake(lake).default_delta_table("instance")).to_pyarrow_table().to_pylist()
    assert {row["partition_name"] for row in rows} <= {ORTHANC_PARTITION}
    return sorted(
        (row["study_instance_uid"], row["series_instance_uid"], row["sop_instance_uid"])
        for row in rows
    )


def assert_lake_matches_orthanc(server: OrthancServer, lake: Path) -> None:
    assert delta_instance_keys(lake) == server.instance_keys()
    assert_delta_matches_marts(lake, Lake(lake).default_delta_uri)


def landed(lake: Path, sql: str) -> list[tuple]:
    with duckdb.connect() as connection:
        files = Lake(lake).changefeed_glob.replace("'", "''")
        connection.execute(
            f"create view landed as select * from read_parquet('{files}', union_by_name = true)"
        )
        return connection.execute(sql).fetchall()


def sop_of(path: Path) -> str:
    return str(pydicom.dcmread(path, stop_before_pixels=True, force=True).SOPInstanceUID)


def test_the_lake_follows_orthanc_step_by_step(orthanc: OrthancServer, tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    started = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=1)
    files = {path.name: path for path in sample_files()}
    uploaded = {name: orthanc.upload(path.read_bytes()) for name, path in files.items()}

    # Uploads: every instance lands once, with its Orthanc id, a UTC timestamp and its metadata.
    summary = run_job(orthanc, lake)
    assert summary.by_action == {"Create": len(files)}
    assert summary.reconciliation.mode == "counts agree"
    assert_lake_matches_orthanc(orthanc, lake)
    rows = landed(lake, "select source_instance_id, timestamp, metadata, source from landed")
    assert sorted(row[0] for row in rows) == sorted(u["ID"] for u in uploaded.values())
    assert all(started <= row[1] <= datetime.now(UTC) for row in rows), "Date is not UTC"
    assert all(row[2].startswith("{") and row[3] == orthanc.url for row in rows)

    # Delete one instance of the three-instance OT series: a Delete lands, the series stays.
    victim = uploaded["SC_rgb_dcmtk_+eb+cr.dcm"]
    orthanc.delete("instances", victim["ID"])
    summary = run_job(orthanc, lake)
    assert summary.by_action == {"Delete": 1}
    assert summary.reconciliation.mode == "listed"
    assert summary.reconciliation.candidates == 1
    assert_lake_matches_orthanc(orthanc, lake)
    assert sop_of(files["SC_rgb_dcmtk_+eb+cr.dcm"]) not in str(delta_instance_keys(lake))

    # Delete a whole series (NM, two instances), then a patient.
    orthanc.delete("series", uploaded["JPEG-lossy.dcm"]["ParentSeries"])
    summary = run_job(orthanc, lake)
    assert summary.by_action["Delete"] == 2
    assert_lake_matches_orthanc(orthanc, lake)
    orthanc.delete("patients", uploaded["CT_small.dcm"]["ParentPatient"])
    summary = run_job(orthanc, lake)
    assert summary.by_action["Delete"] >= 1
    assert_lake_matches_orthanc(orthanc, lake)

    # Modify a study (new UIDs for the copy), then delete the original: the copy's instances
    # land as Creates, the original's as Deletes.
    original = uploaded["MR_small.dcm"]["ParentStudy"]
    modified = orthanc.call(
        "POST",
        f"/studies/{original}/modify",
        json={"Replace": {"StudyDescription": "modified by dicom-lake tests"}},
    )
    summary = run_job(orthanc, lake)
    assert summary.by_action == {"Create": 1}
    assert_lake_matches_orthanc(orthanc, lake)
    orthanc.delete("studies", original)
    summary = run_job(orthanc, lake)
    assert summary.by_action == {"Delete": 1}
    assert_lake_matches_orthanc(orthanc, lake)
    study_uid = orthanc.call("GET", f"/studies/{modified['ID']}")["MainDicomTags"][
        "StudyInstanceUID"
    ]
    assert [key[0] for key in delta_instance_keys(lake)].count(study_uid) == 1

    # A re-upload after the delete lands above the synthetic delete: the instance is back.
    orthanc.upload(files["SC_rgb_dcmtk_+eb+cr.dcm"].read_bytes())
    summary = run_job(orthanc, lake)
    assert summary.by_action == {"Create": 1}
    assert_lake_matches_orthanc(orthanc, lake)
    history = landed(
        lake,
        "select action, sequence from landed where source_instance_id = "
        f"'{victim['ID']}' order by sequence",
    )
    assert [action for action, _ in history] == ["Create", "Delete", "Create"]

    # Sequences: unique, NewInstance ones at Seq << 24, deletes between.
    total, distinct = landed(lake, "select count(*), count(distinct sequence) from landed")[0]
    assert total == distinct
    creates = landed(lake, "select sequence from landed where action = 'Create'")
    assert all(sequence % (1 << SEQUENCE_SHIFT) == 0 for (sequence,) in creates)

    # Nothing new: nothing lands, the counts agree, no Delta version is committed.
    versions = {
        t: DeltaTable(Lake(lake).default_delta_table(t)).version() for t in ("instance", "study")
    }
    summary = run_job(orthanc, lake)
    assert summary.landed == 0 and summary.reconciliation.mode == "counts agree"
    assert {
        t: DeltaTable(Lake(lake).default_delta_table(t)).version() for t in versions
    } == versions


def test_basic_credentials_from_the_environment(
    orthanc_install: OrthancInstall, tmp_path: Path, monkeypatch, caplog
) -> None:
    password = "s3cret-Pa55"
    users = {"alice": password}
    with OrthancServer(orthanc_install, tmp_path / "orthanc", users=users) as server:
        server.upload(next(iter(sample_files())).read_bytes())
        settings = OrthancSettings(url=server.url)

        for environment in ({}, {"ORTHANC_USERNAME": "alice", "ORTHANC_PASSWORD": "wrong"}):
            monkeypatch.delenv("ORTHANC_USERNAME", raising=False)
            monkeypatch.delenv("ORTHANC_PASSWORD", raising=False)
            for name, value in environment.items():
                monkeypatch.setenv(name, value)
            with pytest.raises(AuthFailure, match="401"):
                extract_orthanc(
                    settings, make_session(basic_auth_from_env(), 0), LandingZone(tmp_path / "lake")
                )

        monkeypatch.setenv("ORTHANC_USERNAME", "alice")
        monkeypatch.setenv("ORTHANC_PASSWORD", password)
        with caplog.at_level(logging.DEBUG):
            summary = extract_orthanc(
                settings, make_session(basic_auth_from_env(), 0), LandingZone(tmp_path / "lake")
            )
        assert summary.by_action == {"Create": 1}
        assert password not in caplog.text
        assert landed(tmp_path / "lake", f"select count(*) from landed where source like "
                      f"'%{password}%'") == [(0,)]  # fmt: skip

    with pytest.raises(ValueError, match="both"):
        basic_auth_from_env({"ORTHANC_USERNAME": "alice"})
    assert basic_auth_from_env({}) is None


def test_not_an_orthanc_or_no_dicomweb(orthanc: OrthancServer, tmp_path: Path) -> None:
    settings = OrthancSettings(url=orthanc.url + "/nowhere")
    with pytest.raises(SourceError, match="404"):
        extract_orthanc(settings, make_session(None, 0), LandingZone(tmp_path / "lake"))


def test_a_lake_ahead_of_the_server_is_refused(orthanc: OrthancServer, tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    LandingZone(lake).land([_row(landed_sequence(10_000), "x", "1")])
    with pytest.raises(SourceError, match="reset"):
        extract_orthanc(OrthancSettings(url=orthanc.url), make_session(None, 0), LandingZone(lake))


# -- without a server: the sequence scheme and the reconciliation's safeguards ----------------


def _row(sequence: int, orthanc_id: str, sop: str, action: str = "Create") -> dict[str, Any]:
    now = datetime(2024, 1, 1, tzinfo=UTC)
    return {
        "sequence": sequence,
        "timestamp": now,
        "action": action,
        "state": None,
        "partition_name": ORTHANC_PARTITION,
        "study_instance_uid": "1.2",
        "series_instance_uid": "1.2.3",
        "sop_instance_uid": sop,
        "file_path": None,
        "metadata": "{}",
        "extracted_at": now,
        "source": "http://127.0.0.1:8042",
        "source_instance_id": orthanc_id,
    }


class FakeOrthanc:
    def __init__(self, listed: list[str], existing: set[str], last: int) -> None:
        self.listed, self.existing, self.last = listed, existing, last
        self.checked: list[str] = []

    def statistics(self) -> dict[str, Any]:
        return {"CountInstances": len(self.existing)}

    def changes(self, since: int, limit: int) -> dict[str, Any]:
        return {"Changes": [], "Last": self.last, "Done": True}

    def instance_id_pages(self, page_size: int) -> Iterator[list[str]]:
        for start in range(0, len(self.listed) + 1, page_size):
            yield self.listed[start : start + page_size]

    def instance_exists(self, instance_id: str) -> bool:
        self.checked.append(instance_id)
        return instance_id in self.existing


def batches(lake: Path) -> Batches:
    """What a run lands through, on the landing zone as it is now."""
    return Batches(LandingZone(lake), batch_size=5000)


def test_deletes_are_confirmed_and_numbered_above_everything_landed(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    LandingZone(lake).land([_row(landed_sequence(seq), f"id{seq}", str(seq)) for seq in (1, 5, 9)])
    # id5 was deleted; id1 shifted out of the offset paging but still exists.
    server = FakeOrthanc(listed=["id9"], existing={"id1", "id9"}, last=12)
    now = datetime(2024, 6, 1, tzinfo=UTC)
    result = reconcile(
        server, batches(lake), read_to=12, source="s", list_page_size=1, check_counts=True, now=now
    )
    assert (result.mode, result.candidates, result.still_there, result.deleted) == (
        "listed",
        2,
        1,
        1,
    )
    first = landed(lake, "select sequence, sop_instance_uid from landed where action='Delete'")
    assert first == [(landed_sequence(12, 1), "5")]
    # Reconciling again at the same read position takes the next number, never the same one.
    LandingZone(lake).land([_row(landed_sequence(7), "id7", "7")])
    server = FakeOrthanc(listed=["id1", "id9"], existing={"id1", "id9"}, last=12)
    result = reconcile(
        server,
        batches(lake),
        read_to=12,
        source="s",
        list_page_size=10,
        check_counts=False,
        now=now,
    )
    assert result.deleted == 1
    sequences = landed(lake, "select sequence from landed where action='Delete' order by 1")
    assert sequences == [(landed_sequence(12, 1),), (landed_sequence(12, 2),)]
    assert orthanc_seq(LandingZone(lake).watermark().sequence) == 12
    assert LandingZone(lake).present_instances().column("source_instance_id").to_pylist() != []
    # Equal counts and no change since the read: the listing is skipped.
    result = reconcile(
        server, batches(lake), read_to=12, source="s", list_page_size=10, check_counts=True, now=now
    )
    assert result.mode == "counts agree" and result.listed == 0


def test_reconcile_every_n_runs(tmp_path: Path) -> None:
    state = Lake(tmp_path / "lake").reconcile_state
    assert reconciliation_due(state, 3)  # never reconciled: now
    record_reconciliation(state, reconciled=True)
    assert not reconciliation_due(state, 3)
    record_reconciliation(state, reconciled=False)
    assert not reconciliation_due(state, 3)
    record_reconciliation(state, reconciled=False)
    assert reconciliation_due(state, 3)
    assert reconciliation_due(state, 1) and not reconciliation_due(state, 0)


def test_small_parts() -> None:
    assert parse_orthanc_date("20240101T120000") == datetime(2024, 1, 1, 12, tzinfo=UTC)
    assert landed_sequence(3, 2) == (3 << 24) + 2 and orthanc_seq(landed_sequence(3, 5)) == 3
    assert single_object_text('[ {"a": 0.50} ]', "x") == '{"a": 0.50}'
    assert single_object_text("[]", "x") is None
    with pytest.raises(ValueError):
        landed_sequence(1, 1 << 24)


def test_dicom_lake_run_with_the_orthanc_source(orthanc: OrthancServer, tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    for path in sample_files()[:3]:
        orthanc.upload(path.read_bytes())
    command = [sys.executable, "-m", "extractor", "run", "--source", "orthanc"]
    command += ["--url", orthanc.url, "--lake", str(lake)]
    first = subprocess.run(command, capture_output=True, text=True, timeout=240)
    assert first.returncode == 0, first.stderr
    assert "landed          3 entries (Create 3)" in first.stdout
    assert "reconciliation:" in first.stdout
    assert_lake_matches_orthanc(orthanc, lake)
    again = subprocess.run(command, capture_output=True, text=True, timeout=240)
    assert again.returncode == 99, again.stderr  # nothing new
