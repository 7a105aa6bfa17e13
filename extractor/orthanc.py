"""Orthanc as a source: new instances from `/changes`, their DICOM JSON from the DICOMweb plugin,
and deletes found by reconciliation (extractor/reconcile.py), landed in the Azure feed's schema.

Orthanc's change log is not a feed of events: a delete writes no entry, and removes every earlier
entry of the deleted resources. So this source lands one `Create` per `NewInstance` entry, and a
synthetic `Delete` for every instance that landed as existing and is no longer on the server.
docs/orthanc.md explains the choices; in short:

- `sequence` = Orthanc `Seq` * 2**24 for a NewInstance; synthetic deletes take the next free
  numbers above everything landed, below (the `Seq` read to + 1) * 2**24. Every later Orthanc
  change has a higher `Seq`, so a re-upload after a delete lands above the delete.
- The watermark is the highest landed `sequence` >> 24: the Orthanc `Seq` to read `/changes` from.
- `timestamp` is the entry's `Date`, which Orthanc 1.10 writes in UTC (checked with TZ set to
  Asia/Tokyo); deletes carry the time they were detected.
- `partition_name` is the constant `Orthanc.Default`; `source` is the URL; `source_instance_id`
  is Orthanc's instance id.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests
from requests.auth import HTTPBasicAuth

from extractor.changefeed import FEED_BEGINNING
from extractor.extract import ExtractSummary, OnPage
from extractor.http import AuthFailure, MalformedResponse, SourceError, retry_malformed, send_get
from extractor.landing import Lander, read_watermark
from extractor.settings import public_url

log = logging.getLogger(__name__)

SEQUENCE_SHIFT = 24
"""Landed sequence = Orthanc Seq << 24 (+ k for synthetic deletes, 1 <= k < 2**24)."""
SEQUENCE_SLOTS = 1 << SEQUENCE_SHIFT
ORTHANC_PARTITION = "Orthanc.Default"
USERNAME_ENV, PASSWORD_ENV = "ORTHANC_USERNAME", "ORTHANC_PASSWORD"
DICOMWEB_ROOT = "/dicom-web"
_ORTHANC_DATE = re.compile(r"^(\d{8})T(\d{6})$")
_WHITESPACE = re.compile(r"[ \t\n\r]*")
_decoder = json.JSONDecoder()


def landed_sequence(orthanc_seq: int, k: int = 0) -> int:
    """The landing zone's sequence for Orthanc `Seq` (k = 0) or the k-th delete landed at it."""
    if not 0 <= k < SEQUENCE_SLOTS:
        raise ValueError(f"k must be 0 to {SEQUENCE_SLOTS - 1}, not {k}")
    return (orthanc_seq << SEQUENCE_SHIFT) | k


def orthanc_seq(sequence: int) -> int:
    """The Orthanc `Seq` a landed sequence belongs to (the position the feed was read to)."""
    return sequence >> SEQUENCE_SHIFT


@dataclass(frozen=True)
class OrthancSettings:
    url: str
    lake_dir: Path
    page_size: int = 1000  # /changes entries per request
    list_page_size: int = 10_000  # instance ids per /instances request (reconciliation)
    batch_size: int = 5000  # entries per landed Parquet file
    timeout: float = 60.0  # seconds to wait for one answer
    max_retries: int = 8
    reconcile_every: int = 1  # reconcile every N runs; 0: never
    reconcile_check: bool = True  # first compare /statistics counts; list only on a difference

    def __post_init__(self) -> None:
        if not 1 <= self.page_size <= 10_000:
            raise ValueError(f"page size must be 1 to 10000, not {self.page_size}")
        if not 1 <= self.list_page_size <= 1_000_000:
            raise ValueError(f"list page size must be 1 to 1000000, not {self.list_page_size}")
        if self.batch_size < 1:
            raise ValueError(f"batch size must be positive, not {self.batch_size}")
        if self.reconcile_every < 0:
            raise ValueError(
                f"reconcile every must be 0 (never) or more, not {self.reconcile_every}"
            )
        if not self.url.startswith(("http://", "https://")):
            raise ValueError(
                f"the Orthanc URL must start with http:// or https://: {public_url(self.url)!r}"
            )


def basic_auth_from_env(environ: Mapping[str, str] | None = None) -> HTTPBasicAuth | None:
    """HTTP basic credentials from ORTHANC_USERNAME / ORTHANC_PASSWORD, or None when both unset."""
    environ = os.environ if environ is None else environ
    username, password = environ.get(USERNAME_ENV), environ.get(PASSWORD_ENV)
    if not username and not password:
        return None
    if not username or password is None:
        raise ValueError(f"set both {USERNAME_ENV} and {PASSWORD_ENV}, or neither")
    return HTTPBasicAuth(username, password)


@dataclass(frozen=True)
class InstanceUids:
    study: str
    series: str
    sop: str


class OrthancClient:
    """The few Orthanc REST calls the source needs, with errors that name their cause.

    The session (extractor.http.make_session) retries connection errors and 429/5xx; a 200
    answer that is not JSON is read again here.
    """

    def __init__(self, session: requests.Session, url: str, timeout: float) -> None:
        self.session = session
        self.base = url.rstrip("/")
        self.where = public_url(url)
        self.timeout = timeout
        self._series: dict[str, tuple[str, str]] = {}  # series id -> (series uid, study id)
        self._studies: dict[str, str] = {}  # study id -> study uid
        self.requests = 0

    # -- transport ---------------------------------------------------------------------------

    def _get(
        self, path: str, params: Mapping[str, str] | None = None, *, accept: str | None = None
    ) -> requests.Response | None:
        """GET; None on 404 (the caller decides what a missing resource means)."""
        headers = {"Accept": accept} if accept else None
        self.requests += 1
        response = send_get(self.session, self.base + path, params, self.timeout, headers)
        if response.ok:
            return response
        if response.status_code == 404:
            return None
        raise self._status_error(response, path)

    def _status_error(self, response: requests.Response, path: str) -> SourceError:
        status = response.status_code
        detail = response.text.strip()[:300]
        if status == 401:
            return AuthFailure(
                f"Orthanc at {self.where} answered 401 Unauthorized: set {USERNAME_ENV} and "
                f"{PASSWORD_ENV} to a user of its RegisteredUsers (or unset both when its "
                "authentication is disabled)"
            )
        if status == 403:
            return AuthFailure(
                f"Orthanc at {self.where} answered 403 Forbidden for {path}: the user may not "
                "read it (an authorization plugin, or a remote client with RemoteAccessAllowed "
                "false)"
            )
        return SourceError(f"Orthanc at {self.where} answered {status} for {path}: {detail}")

    @retry_malformed
    def get_json(
        self, path: str, params: Mapping[str, str] | None = None, *, required: bool = True
    ) -> Any:
        """The JSON answer of a GET; None on 404 unless `required` (then a SourceError)."""
        response = self._get(path, params)
        if response is None:
            if required:
                raise SourceError(
                    f"Orthanc at {self.where} answered 404 Not Found for {path}: is the URL the "
                    "root of Orthanc's REST API (e.g. http://127.0.0.1:8042)?"
                )
            return None
        try:
            return response.json()
        except ValueError:
            kind = response.headers.get("Content-Type") or "no content type"
            raise MalformedResponse(
                f"Orthanc at {self.where} answered {path} with {kind} that is not valid JSON"
            ) from None

    # -- the calls ----------------------------------------------------------------------------

    def check_dicomweb(self) -> None:
        plugins = self.get_json("/plugins")
        if not isinstance(plugins, list) or "dicom-web" not in plugins:
            raise SourceError(
                f"Orthanc at {self.where} has no DICOMweb plugin (GET /plugins lists "
                f"{plugins!r}): install orthanc-dicomweb and enable it in the configuration"
            )

    def changes(self, since: int, limit: int) -> dict[str, Any]:
        page = self.get_json("/changes", {"since": str(since), "limit": str(limit)})
        if (
            not isinstance(page, dict)
            or not isinstance(page.get("Changes"), list)
            or not isinstance(page.get("Last"), int)
            or not isinstance(page.get("Done"), bool)
        ):
            raise MalformedResponse(f"Orthanc at {self.where}: /changes is not a change page")
        return page

    def instance_uids(self, instance_id: str) -> InstanceUids | None:
        """The instance's three UIDs (series and studies cached), or None if it is gone."""
        instance = self.get_json(f"/instances/{instance_id}", required=False)
        if instance is None:
            return None
        sop = instance["MainDicomTags"]["SOPInstanceUID"]
        series_id = instance["ParentSeries"]
        if series_id not in self._series:
            series = self.get_json(f"/series/{series_id}", required=False)
            if series is None:
                return None
            self._series[series_id] = (
                series["MainDicomTags"]["SeriesInstanceUID"],
                series["ParentStudy"],
            )
        series_uid, study_id = self._series[series_id]
        if study_id not in self._studies:
            study = self.get_json(f"/studies/{study_id}", required=False)
            if study is None:
                return None
            self._studies[study_id] = study["MainDicomTags"]["StudyInstanceUID"]
        return InstanceUids(self._studies[study_id], series_uid, sop)

    @retry_malformed
    def metadata(self, uids: InstanceUids) -> str | None:
        """The instance's DICOM JSON object, as the exact text the plugin sent; None if gone."""
        path = (
            f"{DICOMWEB_ROOT}/studies/{uids.study}/series/{uids.series}"
            f"/instances/{uids.sop}/metadata"
        )
        response = self._get(path, accept="application/dicom+json")
        if response is None:
            return None
        return single_object_text(response.text, f"{self.where}{path}")

    def statistics(self) -> dict[str, Any]:
        statistics = self.get_json("/statistics")
        if not isinstance(statistics, dict) or not isinstance(
            statistics.get("CountInstances"), int
        ):
            raise MalformedResponse(f"Orthanc at {self.where}: /statistics has no CountInstances")
        return statistics

    def instance_id_pages(self, page_size: int) -> Iterator[list[str]]:
        """Every instance id, a page at a time (`since` is an offset in Orthanc's listing)."""
        offset = 0
        while True:
            page = self.get_json("/instances", {"since": str(offset), "limit": str(page_size)})
            if not isinstance(page, list):
                raise MalformedResponse(f"Orthanc at {self.where}: /instances is not a list")
            yield [str(identifier) for identifier in page]
            if len(page) < page_size:
                return
            offset += len(page)

    def instance_exists(self, instance_id: str) -> bool:
        response = self._get(f"/instances/{instance_id}")
        return response is not None


def single_object_text(text: str, where: str) -> str | None:
    """The text of the one object in a JSON array `[{...}]`, cut unchanged; None if `[]`.

    Re-serialising it could change how numbers are written, so the span is cut from the answer.
    """
    try:
        position = _WHITESPACE.match(text, 0).end()  # type: ignore[union-attr]
        if text[position] != "[":
            raise ValueError("not an array")
        position = _WHITESPACE.match(text, position + 1).end()  # type: ignore[union-attr]
        if text[position] == "]":
            return None
        start = position
        value, position = _decoder.raw_decode(text, position)
        end = position
        position = _WHITESPACE.match(text, position).end()  # type: ignore[union-attr]
        if not isinstance(value, dict) or text[position] != "]":
            raise ValueError("not one object")
        if text[position + 1 :].strip():
            raise ValueError("extra data after the array")
    except (ValueError, IndexError) as error:
        raise MalformedResponse(
            f"{where} is not an array of one DICOM JSON object ({error})"
        ) from None
    return text[start:end]


def parse_orthanc_date(text: str) -> datetime:
    """`20240101T120000` (Orthanc 1.10 writes change dates in UTC) -> an aware UTC datetime."""
    match = _ORTHANC_DATE.match(text or "")
    if match is None:
        raise MalformedResponse(f"not an Orthanc date: {text!r}")
    return datetime.strptime(text, "%Y%m%dT%H%M%S").replace(tzinfo=UTC)


@dataclass
class OrthancExtractSummary(ExtractSummary):
    """ExtractSummary, plus what is particular to Orthanc."""

    read_to: int = 0  # the Orthanc Seq /changes was read to
    gone: int = 0  # NewInstance entries whose instance was deleted before it could be read
    reconciliation: Any = None  # extractor.reconcile.Reconciliation, when one ran
    requests: int = 0
    notes: list[str] = field(default_factory=list)


def extract_orthanc(
    settings: OrthancSettings,
    session: requests.Session,
    *,
    now: datetime | None = None,
    on_page: OnPage | None = None,
    reconcile: bool | None = None,
) -> OrthancExtractSummary:
    """Land Orthanc's new instances since the watermark, then reconcile when due.

    `reconcile`: None follows `settings.reconcile_every`; True or False forces it either way.
    """
    from extractor.reconcile import reconcile as run_reconciliation
    from extractor.reconcile import reconciliation_due, record_reconciliation

    lake_dir = settings.lake_dir
    now = now or datetime.now(UTC)
    before = read_watermark(lake_dir)
    since = orthanc_seq(before.sequence) if before is not None else 0
    summary = OrthancExtractSummary(
        window_start=before.timestamp if before is not None else FEED_BEGINNING,
        window_end=now,
        watermark_before=before,
    )
    client = OrthancClient(session, settings.url, settings.timeout)
    source = public_url(settings.url)
    client.check_dicomweb()

    lander = Lander(lake_dir, settings.batch_size)
    summary.files, summary.by_action = lander.files, lander.by_action

    read_to = since
    while True:
        page = client.changes(read_to, settings.page_size)
        changes, last, done = page["Changes"], page["Last"], page["Done"]
        if not changes and last < since:
            raise SourceError(
                f"Orthanc at {client.where} has changes up to {last} only, but this lake has "
                f"landed up to {since}: is this lake another server's, or was Orthanc's "
                "database reset? Use a new lake for it."
            )
        extracted_at = datetime.now(UTC)
        new = 0
        for change in changes:
            seq = change.get("Seq")
            if not isinstance(seq, int) or seq <= read_to:
                raise MalformedResponse(f"Orthanc at {client.where}: bad change entry {change!r}")
            read_to = seq
            if change.get("ChangeType") != "NewInstance":
                continue
            row = _instance_row(client, change, extracted_at, source)
            if row is None:
                summary.gone += 1
                continue
            lander.add(row)
            new += 1
        summary.pages += 1
        summary.entries_read += len(changes)
        if on_page is not None:
            on_page(len(changes), new)
        lander.land_if_full()
        if done:
            read_to = max(read_to, last)
            break
        if not changes:
            raise MalformedResponse(f"Orthanc at {client.where}: an empty /changes page not Done")
    lander.land()
    summary.read_to = read_to

    due = reconciliation_due(lake_dir, settings.reconcile_every) if reconcile is None else reconcile
    if due:
        summary.reconciliation = run_reconciliation(
            lake_dir,
            client,
            read_to=read_to,
            source=source,
            list_page_size=settings.list_page_size,
            check_counts=settings.reconcile_check,
            now=datetime.now(UTC),
        )
        if summary.reconciliation.file is not None:
            summary.files.append(summary.reconciliation.file)
            summary.by_action["Delete"] += summary.reconciliation.deleted
        record_reconciliation(lake_dir, reconciled=True)
    elif reconcile is None and settings.reconcile_every:
        record_reconciliation(lake_dir, reconciled=False)
    summary.requests = client.requests
    summary.watermark_after = read_watermark(lake_dir)
    return summary


def _instance_row(
    client: OrthancClient, change: Mapping[str, Any], extracted_at: datetime, source: str
) -> dict[str, Any] | None:
    """A NewInstance entry in landing shape, or None when the instance is already gone."""
    instance_id = str(change.get("ID"))
    uids = client.instance_uids(instance_id)
    if uids is None:
        return None
    metadata = client.metadata(uids)
    if metadata is None:
        return None
    return {
        "sequence": landed_sequence(change["Seq"]),
        "timestamp": parse_orthanc_date(str(change.get("Date"))),
        "action": "Create",
        "state": "Current",  # read-time state, as the Azure feed's: it existed when read
        "partition_name": ORTHANC_PARTITION,
        "study_instance_uid": uids.study,
        "series_instance_uid": uids.series,
        "sop_instance_uid": uids.sop,
        "file_path": None,
        "metadata": metadata,
        "extracted_at": extracted_at,
        "source": source,
        "source_instance_id": instance_id,
    }
