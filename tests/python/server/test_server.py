"""The local DICOM service against the change-feed contract, over real HTTP on 127.0.0.1."""

from __future__ import annotations

import json
import logging
import re
import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from functools import partial
from io import BytesIO
from typing import Any

import pytest
import requests
from pydicom.dataset import Dataset
from pydicom.uid import generate_uid
from support import dicom_factory
from support.dicom_factory import bulk_update, delete, stow

from extractor.server import LocalDicomService, ServiceOptions
from extractor.server.dicom_json import strip_bulk_json

T0 = datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)
WIRE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{7}\+00:00$")
SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"


# -- helpers ------------------------------------------------------------------------------------


# The server's own files carry bulk data, for the stripping test, and a description to update.
make_instance = partial(
    dicom_factory.make_instance,
    bulk_data=True,
    SOPClassUID=SECONDARY_CAPTURE,
    Modality="OT",
    StudyDescription="original",
)


def feed(url: str, **params: Any) -> list[dict[str, Any]]:
    response = requests.get(f"{url}/v2/changefeed", params=params, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def upload(url: str, n: int = 1, **kwargs: Any) -> list[bytes]:
    files = [make_instance(**kwargs) for _ in range(n)]
    assert stow(url, files, check=False).status_code == 200
    return files


def stepping_clock(start: datetime, step: timedelta) -> Any:
    """A clock that advances by ``step`` on every reading, for deterministic timestamps."""
    state = {"now": start - step}

    def clock() -> datetime:
        state["now"] += step
        return state["now"]

    return clock


def wire(moment: datetime, tick: int = 0) -> str:
    """A query timestamp with 7 fractional digits: ``moment`` plus ``tick`` x 100 ns."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond * 10 + tick:07d}Z"


@pytest.fixture
def service_with(request: pytest.FixtureRequest) -> Iterator[LocalDicomService]:
    with LocalDicomService(options=request.param) as service:
        yield service


# -- query validation ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"startTime": "2026-01-01T00:00:00"}, "startTime"),
        ({"endTime": "2026-01-01T00:00:00"}, "endTime"),
        ({"startTime": "yesterday"}, "startTime"),
        ({"startTime": "2026-02-30T00:00:00Z"}, "startTime"),
        ({"startTime": "2026-01-01T00:00:00.123456789Z"}, "startTime"),
        ({"startTime": "2026-01-01T00:00:00Z", "endTime": "2026-01-01T00:00:00Z"}, "endTime"),
        ({"startTime": "2026-01-02T00:00:00Z", "endTime": "2026-01-01T00:00:00Z"}, "endTime"),
        ({"offset": "-1"}, "offset"),
        ({"offset": "x"}, "offset"),
        ({"limit": "0"}, "limit"),
        ({"limit": "201"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"includeMetadata": "yes"}, "includeMetadata"),
    ],
)
def test_bad_parameters_answer_400_naming_the_parameter(dicom_service, params, named) -> None:
    response = requests.get(f"{dicom_service.url}/v2/changefeed", params=params, timeout=10)
    assert response.status_code == 400
    assert response.headers["Content-Type"].startswith("text/plain")
    assert named in response.text


def test_latest_validates_include_metadata(dicom_service) -> None:
    url = f"{dicom_service.url}/v2/changefeed/latest"
    assert requests.get(url, params={"includeMetadata": "maybe"}, timeout=10).status_code == 400


def test_good_parameters_and_their_limits_are_accepted(dicom_service) -> None:
    upload(dicom_service.url)
    for params in [
        {},
        {"limit": "1"},
        {"limit": "200", "offset": "0", "includeMetadata": "False"},
        {"startTime": "2000-01-01T00:00:00+02:00", "endTime": "9999-12-31T23:59:59.9999999Z"},
        {"startTime": "0001-01-01T00:00:00Z", "endTime": "0001-01-01T00:00:00.0000001Z"},
    ]:
        response = requests.get(f"{dicom_service.url}/v2/changefeed", params=params, timeout=10)
        assert response.status_code == 200, (params, response.text)


def test_the_seventh_fractional_digit_counts(dicom_service) -> None:
    dicom_service.store.clock = lambda: T0
    upload(dicom_service.url)
    (entry,) = feed(dicom_service.url)
    assert entry["timestamp"] == "2026-01-02T03:04:05.1234560+00:00"
    assert feed(dicom_service.url, startTime=wire(T0)) == [entry]
    assert feed(dicom_service.url, startTime=wire(T0, 1)) == []
    assert feed(dicom_service.url, startTime=wire(T0, -1), endTime=wire(T0)) == []
    assert feed(dicom_service.url, startTime=wire(T0, -1), endTime=wire(T0, 1)) == [entry]


def test_offsets_in_the_query_are_converted_to_utc(dicom_service) -> None:
    dicom_service.store.clock = lambda: T0
    upload(dicom_service.url)
    # 05:04:05.1234560+02:00 is T0; a second later, the row is outside the window.
    assert len(feed(dicom_service.url, startTime="2026-01-02T05:04:05.123456+02:00")) == 1
    assert feed(dicom_service.url, startTime="2026-01-02T05:04:06+02:00") == []


# -- paging, ordering, shape --------------------------------------------------------------------


def test_offset_and_limit_page_inside_the_window(dicom_service) -> None:
    dicom_service.store.clock = stepping_clock(T0, timedelta(seconds=1))
    upload(dicom_service.url, 10)  # timestamps T0 .. T0+9s, sequences 1..10
    window = {
        "startTime": wire(T0 + timedelta(seconds=2)),
        "endTime": wire(T0 + timedelta(seconds=9)),
    }
    pages = [
        [e["sequence"] for e in feed(dicom_service.url, offset=o, limit=3, **window)]
        for o in (0, 3, 6)
    ]
    assert pages == [[3, 4, 5], [6, 7, 8], [9]]


def test_rows_are_ordered_by_timestamp_then_sequence(dicom_service) -> None:
    dicom_service.store.clock = lambda: T0
    upload(dicom_service.url, 2)
    dicom_service.store.clock = lambda: T0 - timedelta(minutes=5)  # a late commit
    upload(dicom_service.url)
    dicom_service.store.clock = lambda: T0
    upload(dicom_service.url)
    sequences = [e["sequence"] for e in feed(dicom_service.url)]
    assert sequences == [3, 1, 2, 4]


def test_entries_have_the_wire_shape_and_omit_nulls(dicom_service) -> None:
    study = generate_uid()
    files = upload(dicom_service.url, 2, study=study)
    delete(dicom_service.url, study, check=False)
    entries = feed(dicom_service.url)
    assert [e["action"] for e in entries] == ["Create", "Create", "Delete", "Delete"]
    assert all(e["state"] == "Deleted" and "metadata" not in e for e in entries)
    assert all("filePath" not in e for e in entries)
    assert "null" not in json.dumps(entries)
    first = entries[0]
    assert set(first) == {
        "sequence",
        "partitionName",
        "studyInstanceUid",
        "seriesInstanceUid",
        "sopInstanceUid",
        "action",
        "timestamp",
        "state",
    }
    assert first["sequence"] == 1 and first["partitionName"] == "Microsoft.Default"
    assert WIRE_TIME.match(first["timestamp"])
    assert len(files) == 2


def test_include_metadata_false_omits_metadata(dicom_service) -> None:
    upload(dicom_service.url)
    assert "metadata" in feed(dicom_service.url)[0]
    assert "metadata" not in feed(dicom_service.url, includeMetadata="false")[0]


@pytest.mark.parametrize(
    "service_with",
    [ServiceOptions(key_case="pascal", enum_case="lower", file_path_prefix="dicom/files/")],
    indirect=True,
)
def test_key_and_enum_casing_and_file_path(service_with) -> None:
    study, series, sop = generate_uid(), generate_uid(), generate_uid()
    upload(service_with.url, study=study, series=series, sop=sop)
    (entry,) = feed(service_with.url)
    assert entry["StudyInstanceUid"] == study and "studyInstanceUid" not in entry
    assert (entry["Action"], entry["State"]) == ("create", "current")
    assert entry["FilePath"] == f"dicom/files/Microsoft.Default/{study}/{series}/{sop}.dcm"
    latest = requests.get(f"{service_with.url}/v2/changefeed/latest", timeout=10).json()
    assert latest["Sequence"] == 1


# -- the read-time traps ------------------------------------------------------------------------


def test_create_delete_create_gives_replaced_replaced_current(dicom_service) -> None:
    uids = {"study": generate_uid(), "series": generate_uid(), "sop": generate_uid()}
    upload(dicom_service.url, **uids, PatientID="FIRST")
    assert delete(dicom_service.url, **uids, check=False).ok
    upload(dicom_service.url, **uids, PatientID="SECOND")
    entries = feed(dicom_service.url)
    assert [(e["action"], e["state"]) for e in entries] == [
        ("Create", "Replaced"),
        ("Delete", "Replaced"),
        ("Create", "Current"),
    ]
    # Every row, the Delete row included, carries the live instance's metadata.
    assert [e["metadata"]["00100020"]["Value"] for e in entries] == [["SECOND"]] * 3


def test_bulk_update_changes_metadata_on_old_rows(dicom_service) -> None:
    study = generate_uid()
    upload(dicom_service.url, 2, study=study)
    other = upload(dicom_service.url)
    change = {
        "00081030": {"vr": "LO", "Value": ["updated"]},
        "00100010": {"vr": "PN", "Value": [{"Alphabetic": "New^Name"}]},
    }
    response = bulk_update(dicom_service.url, [study], change, check=False)
    assert response.status_code == 202
    operation = requests.get(response.json()["href"], timeout=10)
    assert operation.status_code == 200
    assert operation.json()["status"] == "succeeded"
    assert operation.json()["operationId"] == response.json()["id"]

    entries = feed(dicom_service.url)
    assert [(e["action"], e["state"]) for e in entries] == [
        ("Create", "Replaced"),
        ("Create", "Replaced"),
        ("Create", "Current"),
        ("Update", "Current"),
        ("Update", "Current"),
    ]
    for entry in entries:
        description = entry["metadata"]["00081030"]["Value"]
        assert description == (["updated"] if entry["studyInstanceUid"] == study else ["original"])
    assert entries[0]["metadata"]["00100010"]["Value"] == [{"Alphabetic": "New^Name"}]
    assert len(other) == 1


@pytest.mark.parametrize(
    "body",
    [
        {"studyInstanceUids": ["1.2.3"], "changeDataset": {"00080060": {"vr": "CS"}}},
        {"studyInstanceUids": ["1.2.3"], "changeDataset": {"0020000D": {"vr": "UI"}}},
        {"studyInstanceUids": [], "changeDataset": {"00081030": {"vr": "LO"}}},
        {"studyInstanceUids": ["1.2.3"], "changeDataset": {}},
        {"studyInstanceUids": ["1.2.3"], "changeDataset": {"nottag": {"vr": "LO"}}},
        ["not", "an", "object"],
    ],
)
def test_bulk_update_refuses_what_azure_refuses(dicom_service, body) -> None:
    response = requests.post(f"{dicom_service.url}/v2/studies/$bulkUpdate", json=body, timeout=10)
    assert response.status_code == 400


def test_bulk_data_vrs_and_file_meta_are_not_stored(dicom_service) -> None:
    study, series, sop = generate_uid(), generate_uid(), generate_uid()
    upload(dicom_service.url, study=study, series=series, sop=sop)
    metadata = feed(dicom_service.url)[0]["metadata"]
    assert "7FE00010" not in metadata and "00660040" not in metadata
    assert not [tag for tag in metadata if tag.startswith("0002")]
    item = metadata["00081140"]["Value"][0]
    assert item["00080100"]["Value"] == ["123"]
    assert "00420011" not in item
    served = requests.get(
        f"{dicom_service.url}/v2/studies/{study}/series/{series}/instances/{sop}/metadata",
        timeout=10,
    )
    assert served.status_code == 200 and served.json() == [metadata]


def test_metadata_route_404s_for_an_unknown_instance(dicom_service) -> None:
    url = f"{dicom_service.url}/v2/studies/1/series/2/instances/3/metadata"
    assert requests.get(url, timeout=10).status_code == 404


def test_latest_is_204_when_empty_then_the_highest_sequence(dicom_service) -> None:
    url = f"{dicom_service.url}/v2/changefeed/latest"
    empty = requests.get(url, timeout=10)
    assert empty.status_code == 204 and empty.content == b""
    dicom_service.store.clock = lambda: T0
    upload(dicom_service.url)
    dicom_service.store.clock = lambda: T0 - timedelta(hours=1)  # latest is by sequence
    upload(dicom_service.url)
    latest = requests.get(url, params={"includeMetadata": "false"}, timeout=10).json()
    assert latest["sequence"] == 2 and "metadata" not in latest


# -- archive operations -------------------------------------------------------------------------


def test_deletes_at_each_level_and_404(dicom_service) -> None:
    url = dicom_service.url
    study, series_a, series_b = generate_uid(), generate_uid(), generate_uid()
    upload(url, 2, study=study, series=series_a)
    upload(url, 3, study=study, series=series_b)
    sop = feed(url)[0]["sopInstanceUid"]
    assert delete(url, study, series_a, sop, check=False).status_code == 204
    assert delete(url, study, series_a, sop, check=False).status_code == 404
    assert delete(url, study, series_a, check=False).status_code == 204
    assert delete(url, study, check=False).status_code == 204
    assert delete(url, study, check=False).status_code == 404
    assert delete(url, generate_uid(), check=False).status_code == 404
    deletes = [e for e in feed(url) if e["action"] == "Delete"]
    assert len(deletes) == 5
    assert [e["seriesInstanceUid"] for e in deletes[:2]] == [series_a, series_a]


def test_stow_statuses_and_failure_reasons(dicom_service) -> None:
    url = dicom_service.url
    existing = make_instance()
    assert stow(url, [existing], check=False).status_code == 200
    response = stow(url, [existing], check=False)
    assert response.status_code == 409
    (failed,) = response.json()["00081198"]["Value"]
    assert failed["00081197"]["Value"] == [45070]

    partial = stow(url, [existing, make_instance()], check=False)
    assert partial.status_code == 202
    assert len(partial.json()["00081199"]["Value"]) == 1

    no_sop = Dataset()
    no_sop.StudyInstanceUID, no_sop.SeriesInstanceUID = generate_uid(), generate_uid()
    buffer = BytesIO()
    no_sop.save_as(buffer, implicit_vr=True, little_endian=True)
    missing = stow(url, [buffer.getvalue()], check=False)
    assert missing.status_code == 409
    assert missing.json()["00081198"]["Value"][0]["00081197"]["Value"] == [43265]

    mismatch = stow(url, [make_instance()], study=generate_uid(), check=False)
    assert mismatch.json()["00081198"]["Value"][0]["00081197"]["Value"] == [43265]

    junk = stow(url, [b"this is not a DICOM file at all"], check=False)
    assert junk.status_code == 409
    assert junk.json()["00081198"]["Value"][0]["00081197"]["Value"] == [272]
    assert len(feed(url)) == 2


def test_stow_single_application_dicom_body_and_wrong_content_type(dicom_service) -> None:
    url = f"{dicom_service.url}/v2/studies"
    single = requests.post(
        url, data=make_instance(), headers={"Content-Type": "application/dicom"}, timeout=10
    )
    assert single.status_code == 200
    assert single.headers["Content-Type"].startswith("application/dicom+json")
    referenced = single.json()["00081199"]["Value"][0]
    assert referenced["00081190"]["Value"][0].startswith(dicom_service.url)
    wrong = requests.post(url, data=b"{}", headers={"Content-Type": "application/json"}, timeout=10)
    assert wrong.status_code == 415
    wrong_type = requests.post(
        url, data=b"", headers={"Content-Type": 'multipart/related; type="image/jpeg"; boundary=x'}
    )
    assert wrong_type.status_code == 415


def test_unknown_routes_404_and_wrong_methods_405(dicom_service) -> None:
    url = dicom_service.url
    assert requests.get(f"{url}/v2/nothing", timeout=10).status_code == 404
    assert requests.get(f"{url}/v1/changefeed", timeout=10).status_code == 404
    assert requests.get(f"{url}/v2/partitions/p1/changefeed", timeout=10).status_code == 404
    wrong = requests.post(f"{url}/v2/changefeed", timeout=10)
    assert wrong.status_code == 405 and wrong.headers["Allow"] == "GET"
    assert requests.get(f"{url}/v2/studies", timeout=10).status_code == 405
    assert requests.get(f"{url}/v2/operations/nope", timeout=10).status_code == 404


def test_partitions_keep_the_same_uids_apart(dicom_service) -> None:
    url = dicom_service.url
    uids = {"study": generate_uid(), "series": generate_uid(), "sop": generate_uid()}
    instance = make_instance(**uids)
    assert stow(url, [instance], check=False).status_code == 200
    assert stow(url, [instance], partition="p1", check=False).status_code == 200
    assert stow(url, [instance], partition="bad name!", check=False).status_code in (400, 404)
    gone = delete(url, uids["study"], partition="p1", check=False)
    assert gone.status_code == 204
    entries = feed(url)
    assert [(e["partitionName"], e["action"], e["state"]) for e in entries] == [
        ("Microsoft.Default", "Create", "Current"),
        ("p1", "Create", "Deleted"),
        ("p1", "Delete", "Deleted"),
    ]
    update = bulk_update(
        url, [uids["study"]], {"00200010": {"vr": "SH"}}, partition="p1", check=False
    )
    assert update.status_code == 202 and len(feed(url)) == 3  # nothing left in p1 to update


# -- authentication and logging -----------------------------------------------------------------


@pytest.mark.parametrize("service_with", [ServiceOptions(require_token="s3cret")], indirect=True)
def test_require_token(service_with, caplog) -> None:
    caplog.set_level(logging.INFO, logger="extractor.server")
    url = f"{service_with.url}/v2/changefeed"
    missing = requests.get(url, timeout=10)
    assert missing.status_code == 401 and missing.headers["Content-Type"].startswith("text/plain")
    wrong = requests.get(url, headers={"Authorization": "Bearer nope"}, timeout=10)
    assert wrong.status_code == 401
    assert stow(service_with.url, [make_instance()], check=False).status_code == 401
    good = requests.get(url, headers={"Authorization": "Bearer s3cret"}, timeout=10)
    assert good.status_code == 200
    assert requests.get(f"{service_with.url}/_admin/health", timeout=10).text == "ok"
    lines = [r.getMessage() for r in caplog.records if r.name == "extractor.server"]
    assert any(re.match(r"GET /v2/changefeed 401 \d+\.\dms", line) for line in lines)
    assert not any("s3cret" in line for line in lines)


# -- faults -------------------------------------------------------------------------------------


def test_status_faults_carry_retry_after_and_are_consumed_in_order(dicom_service) -> None:
    url = f"{dicom_service.url}/v2/changefeed"
    dicom_service.faults.queue(429, 503, 500)
    too_many = requests.get(url, timeout=10)
    assert too_many.status_code == 429 and too_many.headers["Retry-After"] == "1"
    dicom_service.faults.retry_after = 0
    unavailable = requests.get(url, timeout=10)
    assert unavailable.status_code == 503 and unavailable.headers["Retry-After"] == "0"
    error = requests.get(url, timeout=10)
    assert error.status_code == 500 and "Retry-After" not in error.headers
    assert requests.get(url, timeout=10).status_code == 200
    assert dicom_service.faults.served == 4


def test_faults_do_not_touch_uploads_or_deletes(dicom_service) -> None:
    dicom_service.faults.queue(500)
    upload(dicom_service.url)
    assert dicom_service.faults.queued == [500] and dicom_service.faults.served == 0
    assert requests.get(f"{dicom_service.url}/v2/changefeed/latest", timeout=10).status_code == 500


def test_drop_closes_without_an_answer(dicom_service) -> None:
    dicom_service.faults.queue("drop")
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{dicom_service.url}/v2/changefeed", timeout=10)
    assert requests.get(f"{dicom_service.url}/v2/changefeed", timeout=10).status_code == 200


def test_slow_answers_late_but_correctly(dicom_service) -> None:
    upload(dicom_service.url)
    dicom_service.faults.slow_seconds = 0.3
    dicom_service.faults.queue("slow")
    started = time.monotonic()
    assert len(feed(dicom_service.url)) == 1
    assert time.monotonic() - started >= 0.3
    with pytest.raises(requests.Timeout):
        dicom_service.faults.queue("slow")
        requests.get(f"{dicom_service.url}/v2/changefeed", timeout=0.1)


def test_truncate_and_html200(dicom_service) -> None:
    upload(dicom_service.url, 2)
    url = f"{dicom_service.url}/v2/changefeed"
    whole = requests.get(url, timeout=10).content
    dicom_service.faults.queue("truncate", "html200")
    truncated = requests.get(url, timeout=10)
    assert truncated.status_code == 200
    assert truncated.content == whole[: len(whole) // 2]
    with pytest.raises(ValueError):
        truncated.json()
    html = requests.get(url, timeout=10)
    assert html.status_code == 200 and html.headers["Content-Type"].startswith("text/html")
    assert html.text.lstrip().startswith("<html")


def test_random_faults_follow_the_rates_and_the_seed(dicom_service) -> None:
    url = f"{dicom_service.url}/v2/changefeed"
    dicom_service.faults.set_rates(error_rate=1.0, statuses=(503,), seed=7)
    dicom_service.faults.retry_after = 0
    assert {requests.get(url, timeout=10).status_code for _ in range(5)} == {503}

    def run() -> list[int]:
        dicom_service.faults.set_rates(error_rate=0.5, statuses=(429, 503), seed=1)
        return [requests.get(url, timeout=10).status_code for _ in range(12)]

    first = run()
    assert first == run() and {200, 429, 503} <= set(first)
    dicom_service.faults.clear()
    assert requests.get(url, timeout=10).status_code == 200
    assert dicom_service.faults.served == 1


def test_faults_over_http(dicom_service) -> None:
    admin = f"{dicom_service.url}/_admin/faults"
    configured = requests.post(admin, json={"queue": [429, "drop"], "retry_after": 0}, timeout=10)
    assert configured.status_code == 200 and configured.json()["queue"] == [429, "drop"]
    assert requests.get(f"{dicom_service.url}/v2/changefeed", timeout=10).status_code == 429
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{dicom_service.url}/v2/changefeed", timeout=10)
    assert requests.get(admin, timeout=10).json()["served"] == 2
    assert requests.post(admin, json={"queue": ["explode"]}, timeout=10).status_code == 400
    assert requests.post(admin, json={"error_rate": 2}, timeout=10).status_code == 400
    assert requests.get(f"{dicom_service.url}/_admin/health", timeout=10).text == "ok"


def test_bulk_data_json_is_stripped_at_any_depth() -> None:
    nested = {
        "00081140": {
            "vr": "SQ",
            "Value": [{"00081150": {"vr": "UI", "Value": ["1.2"]}, "7FE00010": {"vr": "OW"}}],
        },
        "00091010": {"vr": "UN", "InlineBinary": "AA=="},
        "00020010": {"vr": "UI", "Value": ["1.2.840.10008.1.2.1"]},
        "00080060": {"vr": "CS", "Value": ["CT"]},
    }
    assert strip_bulk_json(nested) == {
        "00081140": {"vr": "SQ", "Value": [{"00081150": {"vr": "UI", "Value": ["1.2"]}}]},
        "00080060": {"vr": "CS", "Value": ["CT"]},
    }


def test_concurrent_uploads_get_unique_gapless_sequences(dicom_service) -> None:
    def work(_: int) -> int:
        return stow(dicom_service.url, [make_instance() for _ in range(5)], check=False).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert set(pool.map(work, range(8))) == {200}
    sequences = [e["sequence"] for e in feed(dicom_service.url, limit=200)]
    assert sorted(sequences) == list(range(1, 41))


def raw_request(url: str, head: bytes, body: bytes = b"") -> bytes:
    """Send bytes as they are (requests would fix what these tests break); the answer's bytes."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(head + b"\r\n\r\n" + body)
        connection.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    return answer


@pytest.mark.parametrize(
    ("head", "body", "status"),
    [
        (b"Content-Length: -1", b"", b"400"),
        (b"Content-Length: 99999999999", b"", b"413"),
        (b"Transfer-Encoding: chunked", b"zz\r\n", b"400"),
        (b"Transfer-Encoding: chunked", b"fffffffffff\r\n", b"413"),
    ],
)
def test_bad_or_oversized_bodies_answer_4xx_at_once(dicom_service, head, body, status) -> None:
    request = b"POST /v2/studies/$bulkUpdate HTTP/1.1\r\nHost: x\r\n" + head
    answer = raw_request(dicom_service.url, request, body)
    assert answer.split(b" ")[1] == status, answer[:200]


def test_a_body_nested_deeper_than_the_parser_goes_answers_400(dicom_service) -> None:
    nested = b"[" * 100_000 + b"]" * 100_000
    for path in ("/v2/studies/$bulkUpdate", "/_admin/faults"):
        assert requests.post(dicom_service.url + path, data=nested, timeout=30).status_code == 400


@pytest.mark.parametrize("service_with", [ServiceOptions(max_connections=2)], indirect=True)
def test_connections_past_the_cap_are_closed_and_the_service_keeps_serving(service_with) -> None:
    service = service_with
    host, port = service.url.removeprefix("http://").split(":")
    idle = [socket.create_connection((host, int(port)), timeout=10) for _ in range(2)]
    try:
        time.sleep(0.2)  # both taken by handler threads, which wait for a request line
        extra = socket.create_connection((host, int(port)), timeout=10)
        assert extra.recv(100) == b""  # closed without an answer
        extra.close()
    finally:
        for connection in idle:
            connection.close()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            if requests.get(service.url + "/_admin/health", timeout=5).ok:
                break
        except requests.ConnectionError:
            time.sleep(0.1)
    else:
        pytest.fail("the service did not serve again once the idle connections closed")
