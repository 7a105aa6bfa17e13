"""Orthanc as a source: new instances from `/changes`, their DICOM JSON from the DICOMweb plugin,
and deletes found by reconciliation (reconcile.py beside this file), landed in the Azure feed's
schema.

Orthanc's change log is not a feed of events: a delete writes no entry, and removes every earlier
entry of the deleted resources. So this source lands one `Create` per `NewInstance` entry, and a
synthetic `Delete` for every instance that landed as existing and is no longer on the server.
docs/orthanc.md explains the choices; in short:

- `sequence`: see sequences.py beside this file.
- The watermark is the highest landed `sequence` >> 24: the Orthanc `Seq` to read `/changes` from.
- `timestamp` is the entry's `Date`, which Orthanc 1.10 writes in UTC (checked with TZ set to
  Asia/Tokyo); deletes carry the time they were detected.
- `partition_name` is the constant `Orthanc.Default`; `source` is the URL; `source_instance_id`
  is Orthanc's instance id.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import requests

from extractor.sources.contract import (
    FEED_BEGINNING,
    Batches,
    ExtractSummary,
    LandingZone,
    OnPage,
)
from extractor.sources.errors import MalformedResponse, SourceError
from extractor.sources.http import public_url
from extractor.sources.orthanc.client import OrthancClient
from extractor.sources.orthanc.reconcile import (
    Reconciliation,
    reconcile,
    reconciliation_due,
    record_reconciliation,
)
from extractor.sources.orthanc.sequences import landed_sequence, orthanc_seq
from extractor.sources.orthanc.settings import OrthancSettings

log = logging.getLogger(__name__)

ORTHANC_PARTITION = "Orthanc.Default"
_ORTHANC_DATE = re.compile(r"^(\d{8})T(\d{6})$")


@dataclass
class OrthancExtractSummary(ExtractSummary):
    """ExtractSummary, plus what is particular to Orthanc."""

    read_to: int = 0  # the Orthanc Seq /changes was read to
    gone: int = 0  # NewInstance entries whose instance was deleted before it could be read
    reconciliation: Reconciliation | None = None
    requests: int = 0


def parse_orthanc_date(text: str) -> datetime:
    """`20240101T120000` (Orthanc 1.10 writes change dates in UTC) -> an aware UTC datetime."""
    match = _ORTHANC_DATE.match(text or "")
    if match is None:
        raise MalformedResponse(f"not an Orthanc date: {text!r}")
    return datetime.strptime(text, "%Y%m%dT%H%M%S").replace(tzinfo=UTC)


def extract_orthanc(
    settings: OrthancSettings,
    session: requests.Session,
    landing: LandingZone,
    *,
    now: datetime | None = None,
    on_page: OnPage | None = None,
    reconcile_now: bool | None = None,
) -> OrthancExtractSummary:
    """Land Orthanc's new instances since the watermark, then reconcile when due.

    `reconcile_now`: None follows `settings.reconcile_every`; True or False forces it either way.
    """
    now = now or datetime.now(UTC)
    watermark = landing.watermark()
    since = orthanc_seq(watermark.sequence) if watermark is not None else 0
    summary = OrthancExtractSummary(
        window_start=watermark.timestamp if watermark is not None else FEED_BEGINNING,
        window_end=now,
        watermark_before=watermark,
    )
    client = OrthancClient(session, settings.url, settings.timeout)
    source = public_url(settings.url)
    client.check_dicomweb()

    batches = Batches(landing, settings.batch_size)
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
            batches.add(row)
            new += 1
        summary.page_read(len(changes), new, on_page)
        batches.land_if_full()
        if done:
            read_to = max(read_to, last)
            break
        if not changes:
            raise MalformedResponse(f"Orthanc at {client.where}: an empty /changes page not Done")
    batches.land()
    summary.read_to = read_to

    state = landing.reconcile_state
    due = (
        reconciliation_due(state, settings.reconcile_every)
        if reconcile_now is None
        else reconcile_now
    )
    if due:
        summary.reconciliation = reconcile(
            client,
            batches,
            read_to=read_to,
            source=source,
            list_page_size=settings.list_page_size,
            check_counts=settings.reconcile_check,
            now=datetime.now(UTC),
        )
        record_reconciliation(state, reconciled=True)
    elif reconcile_now is None and settings.reconcile_every:
        record_reconciliation(state, reconciled=False)
    summary.requests = client.requests
    summary.took(batches)
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
