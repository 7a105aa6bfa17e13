"""Extract runs against the local service: landing, watermark, overlap, retries, auth."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import requests
from azure.core.credentials import AccessToken
from support.dicom_factory import bulk_update, delete, free_port, make_instance, stow
from support.extracts import run_extract
from support.feed_server import ScriptedFeed, entry_text, serve_feed

from extractor.lake import Lake
from extractor.landing import LANDING_SCHEMA, LandingZone
from extractor.sources import (
    AuthFailure,
    SourceError,
    SourceUnreachable,
    make_session,
)
from extractor.sources.azure import AzureSettings, BearerTokenAuth, extract
from extractor.sources.azure.feed import http_page_fetcher


def landed(lake_dir: Path) -> list[dict]:
    files = sorted(Lake(lake_dir).changefeed.glob("*.parquet"))
    rows = [row for f in files for row in pq.read_table(f).to_pylist()]
    return sorted(rows, key=lambda row: row["sequence"])


def test_extract_lands_the_feed_unchanged(dicom_service, lake_dir) -> None:
    study = "1.2.826.0.1.3680043.8.498.1"
    stow(dicom_service.url, [make_instance(study=study, PixelSpacing=[0.5, 0.25])])
    summary = run_extract(dicom_service.url, lake_dir)
    assert summary.landed == 1 and summary.by_action == {"Create": 1}
    (path,) = summary.files
    assert pq.read_schema(path).remove_metadata() == LANDING_SCHEMA
    assert pq.ParquetFile(path).metadata.row_group(0).column(0).compression == "ZSTD"
    (row,) = landed(lake_dir)
    # The metadata is the service's own text, byte for byte.
    page = requests.get(f"{dicom_service.url}/v2/changefeed", timeout=10).text
    assert row["metadata"] and row["metadata"] in page
    assert row["study_instance_uid"] == study
    assert row["partition_name"] == "Microsoft.Default"
    assert row["action"] == "Create" and row["state"] == "Current"
    assert row["source"] == dicom_service.url
    served = requests.get(f"{dicom_service.url}/v2/changefeed", timeout=10).json()[0]
    assert row["timestamp"].isoformat()[:26] == served["timestamp"][:26]  # microseconds kept
    assert row["extracted_at"] >= row["timestamp"]
    assert not list(Lake(lake_dir).changefeed.glob(".*"))  # no temporary file left behind


def test_a_second_run_lands_only_what_is_new(dicom_service, lake_dir) -> None:
    first, second = make_instance(), make_instance()
    stow(dicom_service.url, [first, second])
    assert run_extract(dicom_service.url, lake_dir).landed == 2
    watermark = LandingZone(lake_dir).watermark()

    again = run_extract(dicom_service.url, lake_dir)
    assert again.landed == 0 and again.files == []
    assert again.already_landed == 2  # the overlap was re-read and dropped
    assert LandingZone(lake_dir).watermark() == watermark

    rows = landed(lake_dir)
    delete(dicom_service.url, rows[0]["study_instance_uid"])
    bulk_update(
        dicom_service.url,
        [rows[1]["study_instance_uid"]],
        {"00081030": {"vr": "LO", "Value": ["New"]}},
    )
    third = run_extract(dicom_service.url, lake_dir)
    assert third.by_action == {"Delete": 1, "Update": 1}
    assert [row["sequence"] for row in landed(lake_dir)] == [1, 2, 3, 4]
    assert third.watermark_after.sequence == 4


def test_late_commits_inside_the_overlap_are_caught(dicom_service, lake_dir) -> None:
    stow(dicom_service.url, [make_instance()])
    run_extract(dicom_service.url, lake_dir)
    watermark = LandingZone(lake_dir).watermark()
    # A row committed late: a higher sequence, but stamped before what has landed.
    dicom_service.store.clock = lambda: watermark.timestamp - timedelta(minutes=5)
    stow(dicom_service.url, [make_instance()])
    assert run_extract(dicom_service.url, lake_dir, overlap=timedelta(minutes=10)).landed == 1
    assert [row["sequence"] for row in landed(lake_dir)] == [1, 2]


def test_the_window_lags_now(dicom_service, lake_dir) -> None:
    stow(dicom_service.url, [make_instance()])
    settings = AzureSettings(service_url=dicom_service.url, auth="none", lag=timedelta(minutes=15))
    fetch = http_page_fetcher(make_session(None, 0), dicom_service.url, 200, 10)
    summary = extract(settings, fetch, LandingZone(lake_dir))
    assert summary.landed == 0 and summary.window_end < datetime.now(UTC) - timedelta(minutes=14)
    later = extract(
        settings, fetch, LandingZone(lake_dir), now=datetime.now(UTC) + timedelta(minutes=16)
    )
    assert later.landed == 1


def test_batches_become_separate_files_and_pages_are_counted(dicom_service, lake_dir) -> None:
    stow(dicom_service.url, [make_instance() for _ in range(12)])
    summary = run_extract(dicom_service.url, lake_dir, page_size=4, batch_size=4)
    assert summary.pages == 4  # three full pages, then an empty one that ends the window
    assert len(summary.files) == 3
    assert [row["sequence"] for row in landed(lake_dir)] == list(range(1, 13))


@pytest.mark.parametrize(
    "faults", [[429, 503, 429], [500, 502, 504], ["drop", "drop"], ["truncate", "html200"]]
)
def test_passing_faults_are_retried(dicom_service, lake_dir, faults) -> None:
    stow(dicom_service.url, [make_instance() for _ in range(3)])
    dicom_service.faults.retry_after = 0
    dicom_service.faults.queue(*faults)
    summary = run_extract(dicom_service.url, lake_dir)
    assert summary.landed == 3
    assert dicom_service.faults.served >= len(faults) + 1


def test_retry_after_is_honoured(dicom_service, lake_dir) -> None:
    stow(dicom_service.url, [make_instance()])
    dicom_service.faults.retry_after = 2
    dicom_service.faults.queue(429)
    started = time.monotonic()
    assert run_extract(dicom_service.url, lake_dir).landed == 1
    assert time.monotonic() - started >= 2


def test_a_slow_answer_times_out_and_is_retried(dicom_service, lake_dir) -> None:
    stow(dicom_service.url, [make_instance()])
    dicom_service.faults.slow_seconds = 3
    dicom_service.faults.queue("slow")
    assert run_extract(dicom_service.url, lake_dir, timeout=1.0).landed == 1


def test_a_lasting_outage_fails_clearly_and_lands_nothing(dicom_service, lake_dir) -> None:
    stow(dicom_service.url, [make_instance()])
    dicom_service.faults.retry_after = 0
    dicom_service.faults.queue(*[503] * 5)
    with pytest.raises(SourceError, match="503"):
        run_extract(dicom_service.url, lake_dir, max_retries=2)
    assert LandingZone(lake_dir).watermark() is None


def test_an_unreachable_service_is_named(lake_dir) -> None:
    port = free_port()
    with pytest.raises(SourceUnreachable, match=f"127.0.0.1:{port}"):
        run_extract(f"http://127.0.0.1:{port}", lake_dir, max_retries=1)


@pytest.mark.parametrize(
    ("status", "error", "hint"),
    [
        (400, SourceError, "time window"),
        (403, AuthFailure, "DICOM Data Reader"),
        (401, AuthFailure, "expired"),
        (404, SourceError, "service root"),
    ],
)
def test_client_errors_stop_with_their_cause(dicom_service, lake_dir, status, error, hint) -> None:
    dicom_service.faults.queue(status)
    with pytest.raises(error, match=hint):
        run_extract(dicom_service.url, lake_dir)


class RotatingCredential:
    """A credential like azure-identity's: each call hands out the next token."""

    def __init__(self, *tokens: str, lifetime: float = 3600) -> None:
        self.tokens = list(tokens)
        self.lifetime = lifetime
        self.calls = 0

    def get_token(self, *scopes: str, **kwargs: object) -> AccessToken:
        assert scopes == ("https://dicom.healthcareapis.azure.com/.default",)
        token = self.tokens[min(self.calls, len(self.tokens) - 1)]
        self.calls += 1
        return AccessToken(token, int(time.time() + self.lifetime))


@pytest.fixture
def secured_service():
    from extractor.server import LocalDicomService, ServiceOptions

    with LocalDicomService(port=0, options=ServiceOptions(require_token="fresh-token")) as service:
        yield service


def _stow_with_token(service) -> None:
    stow_session = requests.Session()
    stow_session.headers["Authorization"] = "Bearer fresh-token"
    response = stow_session.post(
        f"{service.url}/v2/studies",
        data=make_instance(),
        headers={"Content-Type": "application/dicom"},
        timeout=10,
    )
    response.raise_for_status()


def test_a_token_refused_mid_run_is_refreshed_once(secured_service, lake_dir, caplog) -> None:
    _stow_with_token(secured_service)
    credential = RotatingCredential("expired-token", "fresh-token")
    caplog.set_level(logging.DEBUG)
    summary = run_extract(secured_service.url, lake_dir, auth=BearerTokenAuth(credential))
    assert summary.landed == 1 and credential.calls == 2
    assert "expired-token" not in caplog.text and "fresh-token" not in caplog.text


def test_a_token_near_expiry_is_renewed_before_use(secured_service, lake_dir) -> None:
    _stow_with_token(secured_service)
    credential = RotatingCredential("fresh-token", lifetime=60)  # inside the refresh margin
    run_extract(secured_service.url, lake_dir, auth=BearerTokenAuth(credential), page_size=1)
    assert credential.calls >= 2  # one per page: the first page and the empty last page


def test_a_bad_token_fails_without_showing_it(secured_service, lake_dir) -> None:
    credential = RotatingCredential("secret-wrong-token")
    with pytest.raises(AuthFailure) as failure:
        run_extract(secured_service.url, lake_dir, auth=BearerTokenAuth(credential))
    assert "secret-wrong-token" not in str(failure.value)
    assert credential.calls == 2  # the first try, then one refresh


def test_an_entry_holding_a_lone_surrogate_lands_as_its_escape_with_its_page(lake_dir) -> None:
    # Valid JSON ("\ud800" is half a surrogate pair) that UTF-8, and so Parquet, cannot hold.
    feed = ScriptedFeed(
        [
            entry_text(1, "2026-01-01T00:00:01Z"),
            entry_text(2, "2026-01-01T00:00:02Z", study="1.2.\ud800"),
            entry_text(3, "2026-01-01T00:00:03Z"),
        ]
    )
    assert r'"1.2.\ud800"' in feed.entries[1]
    with serve_feed(feed) as url:
        assert run_extract(url, lake_dir).landed == 3
        again = run_extract(url, lake_dir)

    assert again.landed == 0 and again.already_landed == 3
    rows = landed(lake_dir)
    assert [row["sequence"] for row in rows] == [1, 2, 3]
    assert rows[1]["study_instance_uid"] == r"1.2.\ud800"
    assert rows[1]["sop_instance_uid"] == r"1.2.\ud800.1.2"


def test_an_entry_dated_past_the_window_lands_but_never_becomes_the_watermark(
    lake_dir, caplog: pytest.LogCaptureFixture
) -> None:
    now = datetime.now(UTC)
    stamp = lambda moment: moment.isoformat().replace("+00:00", "Z")  # noqa: E731
    feed = ScriptedFeed(
        [
            entry_text(1, stamp(now - timedelta(hours=2))),
            entry_text(2, "2099-01-01T00:00:00Z"),
        ],
        honour_window=False,  # the server bug: it sends what lies past endTime
    )
    with serve_feed(feed) as url:
        with caplog.at_level(logging.WARNING, "extractor"):
            first = run_extract(url, lake_dir)
        assert first.landed == 2 and first.past_window == [2]
        assert "dated at or after the window's end" in caplog.text
        assert first.watermark_after.sequence == 1
        assert LandingZone(lake_dir).watermark() == first.watermark_after  # as read back

        feed.entries.append(entry_text(3, stamp(datetime.now(UTC) - timedelta(seconds=1))))
        second = run_extract(url, lake_dir)

    assert second.landed == 1 and second.already_landed == 2
    assert second.watermark_after.sequence == 3
    assert feed.requests[-1]["startTime"] < "2027"  # the window did not start in 2099
    assert [row["sequence"] for row in landed(lake_dir)] == [1, 2, 3]


def test_a_page_trickled_a_byte_at_a_time_ends_at_the_timeout(lake_dir) -> None:
    feed = ScriptedFeed([entry_text(1, "2026-01-01T00:00:01Z")], trickle=0.05)
    started = time.monotonic()
    with serve_feed(feed) as url, pytest.raises(SourceUnreachable, match=r"within the timeout"):
        # Each byte comes well within the 1 s socket timeout; the page as a whole would take 15 s.
        run_extract(url, lake_dir, timeout=1.0)
    assert time.monotonic() - started < 5
    assert not landed(lake_dir)


def test_a_sequence_sent_again_naming_another_instance_is_reported_not_counted_as_landed(
    lake_dir, caplog: pytest.LogCaptureFixture
) -> None:
    feed = ScriptedFeed([entry_text(1, "2026-01-01T00:00:01Z", study="1.2")])
    with serve_feed(feed) as url:
        assert run_extract(url, lake_dir).conflicting == []
        again = run_extract(url, lake_dir)  # the same entry, metadata and all: a re-read
        assert again.already_landed == 1 and again.conflicting == []
        feed.entries = [entry_text(1, "2026-01-01T00:00:01Z", study="7.7")]
        with caplog.at_level(logging.WARNING, "extractor"):
            changed = run_extract(url, lake_dir)

    assert changed.conflicting == [1] and changed.landed == 0
    assert "came again naming another instance" in caplog.text
    assert [row["study_instance_uid"] for row in landed(lake_dir)] == ["1.2"]  # the first kept
