"""The sample data: real files shipped inside pydicom, loaded over HTTP into a live service."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pydicom
import pytest
import requests
from support.dicom_factory import free_port

from extractor.server import LocalDicomService, ServiceOptions
from extractor.server.samples import UPDATED_PATIENT_NAME, load_samples, sample_files


def test_sample_files_ship_inside_pydicom_and_are_distinct() -> None:
    files = sample_files()
    shipped = Path(pydicom.__file__).parent / "data" / "test_files"
    assert len(files) >= 10
    assert all(path.is_file() and path.parent == shipped for path in files)
    sops = [
        str(pydicom.dcmread(p, stop_before_pixels=True, force=True).SOPInstanceUID) for p in files
    ]
    assert len(set(sops)) == len(sops)


def test_load_samples_leaves_create_delete_and_update_in_the_feed(dicom_service) -> None:
    result = load_samples(dicom_service.url)
    assert result.uploaded == len(sample_files())

    feed = requests.get(f"{dicom_service.url}/v2/changefeed", params={"limit": 200}, timeout=10)
    entries = feed.json()
    assert {e["action"] for e in entries} == {"Create", "Delete", "Update"}
    assert sum(e["action"] == "Create" for e in entries) == result.uploaded

    modalities = {
        e["metadata"]["00080060"]["Value"][0]
        for e in entries
        if "00080060" in e.get("metadata", {})
    }
    assert {"CT", "MR", "US", "RTPLAN", "SR"} <= modalities

    deleted = [e for e in entries if e["sopInstanceUid"] == result.deleted.sop]
    assert [(e["action"], e["state"]) for e in deleted] == [
        ("Create", "Deleted"),
        ("Delete", "Deleted"),
    ]
    assert all("metadata" not in e for e in deleted)

    updated = [e for e in entries if e["studyInstanceUid"] == result.updated_study_instance_uid]
    assert len([e for e in updated if e["action"] == "Update"]) >= 2  # a multi-instance series
    for entry in updated:
        assert entry["metadata"]["00100010"]["Value"] == [{"Alphabetic": UPDATED_PATIENT_NAME}]


def test_loading_twice_fails_loudly(dicom_service) -> None:
    load_samples(dicom_service.url)
    with pytest.raises(requests.HTTPError):
        load_samples(dicom_service.url)


def test_load_samples_sends_the_token() -> None:
    with LocalDicomService(options=ServiceOptions(require_token="t0ken")) as service:
        with pytest.raises(requests.HTTPError):
            load_samples(service.url)
        assert load_samples(service.url, token="t0ken").uploaded == len(sample_files())


def test_serve_forever_loads_the_samples_and_stops_on_ctrl_c() -> None:
    port = free_port()
    code = (
        "from extractor.server import ServiceOptions, serve_forever\n"
        f"serve_forever('127.0.0.1', {port}, ServiceOptions(), load_samples=True)\n"
    )
    process = subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while True:
            try:
                latest = requests.get(f"{url}/v2/changefeed/latest", timeout=2)
                if latest.status_code == 200 and latest.json()["action"] == "Update":
                    break
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline, "the samples never finished loading"
            time.sleep(0.1)
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
