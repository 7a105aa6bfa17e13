"""Parsing pages and paging a window, against the local service over real HTTP."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import requests
from dicom_factory import make_instance, stow

from extractor.changefeed import http_page_fetcher, parse_page, read_window
from extractor.http import MalformedResponse, make_session
from extractor.timestamps import format_ticks, parse_timestamp, ticks_to_datetime


def test_timestamps_keep_seven_digits_and_honour_offsets() -> None:
    utc = parse_timestamp("2026-11-25T08:45:18.0315127Z")
    assert utc % 10 == 7
    assert parse_timestamp("2026-11-25T09:45:18.0315127+01:00") == utc
    assert parse_timestamp("2026-11-25t08:45:18.0315127z") == utc
    assert format_ticks(utc) == "2026-11-25T08:45:18.0315127+00:00"
    assert ticks_to_datetime(utc) == datetime(2026, 11, 25, 8, 45, 18, 31512, tzinfo=UTC)
    assert parse_timestamp("2026-11-25T08:45:18Z") % 10_000_000 == 0
    assert parse_timestamp("0001-01-01T00:00:00Z") == 0
    with pytest.raises(ValueError, match="time zone"):
        parse_timestamp("2026-11-25T08:45:18.123")


def test_a_page_keeps_metadata_text_exactly_and_reads_any_casing() -> None:
    metadata = '{"00280030": {"vr": "DS", "Value": [0.50, 1E2, 0.1234567890123456]}}'
    page = (
        '[ {"Sequence": 7, "PartitionName": "Microsoft.Default", "Action": "create",'
        ' "State": "REPLACED", "TimeStamp": "2026-01-02T03:04:05.1234567+00:00",'
        ' "StudyInstanceUid": "1.2", "SeriesInstanceUid": "1.2.3", "SopInstanceUid": "1.2.3.4",'
        f' "Metadata": {metadata}}},\n'
        ' {"sequence": 8, "action": "Purge", "timestamp": "2026-01-02T03:04:06Z"} ]'
    )
    first, second = parse_page(page)
    assert first.row["metadata"] == metadata
    assert first.row["action"] == "Create"
    assert first.row["state"] == "Replaced"
    assert first.row["partition_name"] == "Microsoft.Default"
    assert first.row["sop_instance_uid"] == "1.2.3.4"
    assert first.row["timestamp"] == datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)
    # Omitted fields are null; an action this code does not know is kept for the models.
    assert second.row["action"] == "Purge"
    assert second.row["metadata"] is None
    assert second.row["state"] is None and second.row["study_instance_uid"] is None
    assert parse_page("[]") == []


@pytest.mark.parametrize(
    ("body", "complaint"),
    [
        ('[{"sequence": 1, "timestamp": "2026-01-01T00:00:00Z"', "not valid JSON"),
        ("<html><body>Service Unavailable</body></html>", "not a JSON array"),
        ('[{"timestamp": "2026-01-01T00:00:00Z"}]', "no integer sequence"),
        ('[{"sequence": 1}]', "no timestamp"),
        ('[{"sequence": 1, "timestamp": "yesterday"}]', "not an ISO-8601"),
        ("[1, 2]", "not a JSON object"),
        ("[] []", "not valid JSON"),
    ],
)
def test_a_malformed_page_is_refused_with_the_reason(body: str, complaint: str) -> None:
    with pytest.raises(MalformedResponse, match=complaint):
        parse_page(body)


def _everything(service_url: str, page_size: int) -> list[int]:
    fetch = http_page_fetcher(make_session(None, 2), service_url, page_size, timeout=10)
    end = parse_timestamp("9999-01-01T00:00:00Z")
    pages = list(read_window(fetch, parse_timestamp("2000-01-01T00:00:00Z"), end, page_size))
    assert all(len(page) <= page_size for page in pages)
    return [entry.sequence for page in pages for entry in page]


def test_paging_reads_every_entry_once_in_order(dicom_service) -> None:
    stow(dicom_service.url, [make_instance() for _ in range(23)])
    assert _everything(dicom_service.url, page_size=5) == list(range(1, 24))
    assert _everything(dicom_service.url, page_size=23) == list(range(1, 24))


def test_paging_through_many_entries_sharing_one_timestamp(dicom_service) -> None:
    # A bulk operation can stamp many rows with the same time: the offset must carry them.
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    dicom_service.store.clock = lambda: moment
    stow(dicom_service.url, [make_instance() for _ in range(12)])
    dicom_service.store.clock = lambda: moment + timedelta(seconds=1)
    stow(dicom_service.url, [make_instance() for _ in range(3)])
    assert _everything(dicom_service.url, page_size=5) == list(range(1, 16))


def test_the_window_end_is_exclusive_and_the_start_inclusive(dicom_service) -> None:
    stow(dicom_service.url, [make_instance() for _ in range(3)])
    feed = requests.get(f"{dicom_service.url}/v2/changefeed", timeout=10).json()
    second = parse_timestamp(feed[1]["timestamp"])
    fetch = http_page_fetcher(make_session(None, 0), dicom_service.url, 10, timeout=10)
    assert [e.sequence for e in fetch(second, second + 1, 0)] == [2]
    assert [e.sequence for e in fetch(0, second, 0)] == [1]
    assert json.loads(fetch(second, second + 1, 0)[0].row["metadata"])["00080060"] == {
        "vr": "CS",
        "Value": ["CT"],
    }
