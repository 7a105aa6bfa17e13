"""$bulkUpdate: validating the request body, and the operation record its status route returns.

The local store applies an update before answering, so every operation is recorded as already
succeeded; clients still go through the 202 + operation URL dance as they must against Azure.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime
from typing import Any

from extractor.server.errors import HttpError
from extractor.server.store import Key

# Study-level attributes bulk update may change; every patient-level (group 0010) one is allowed.
STUDY_LEVEL_TAGS = frozenset(
    {"00081030", "00080050", "00080090", "00080020", "00080030", "00200010", "00081048"}
)
_TAG_RE = re.compile(r"^[0-9A-F]{8}$")


def parse_bulk_update(body: bytes) -> tuple[list[str], dict[str, Any]]:
    """Validate a $bulkUpdate body: study UIDs and a patient/study-level DICOM JSON change."""
    try:
        request = json.loads(body)
    except (ValueError, RecursionError):  # RecursionError: nested deeper than Python parses
        raise HttpError(400, "The bulk update body is not JSON.") from None
    if not isinstance(request, dict):
        raise HttpError(400, "The bulk update body must be a JSON object.")
    studies = request.get("studyInstanceUids")
    change = request.get("changeDataset")
    if (
        not isinstance(studies, list)
        or not studies
        or not all(isinstance(s, str) and s for s in studies)
    ):
        raise HttpError(400, "'studyInstanceUids' must be a non-empty list of UIDs.")
    if not isinstance(change, dict) or not change:
        raise HttpError(400, "'changeDataset' must be a non-empty DICOM JSON object.")
    normalized: dict[str, Any] = {}
    for tag, element in change.items():
        tag = str(tag).upper()
        if not _TAG_RE.fullmatch(tag) or not isinstance(element, dict) or "vr" not in element:
            raise HttpError(400, f"'changeDataset' has an invalid attribute '{tag}'.")
        if not (tag.startswith("0010") or tag in STUDY_LEVEL_TAGS):
            raise HttpError(
                400, f"Attribute {tag} cannot be bulk updated: only patient and study attributes."
            )
        normalized[tag] = element
    return studies, normalized


def finished_operation(studies: list[str], updated: list[Key]) -> dict[str, Any]:
    """The record ``GET /v2/operations/{id}`` returns for a bulk update that has been applied."""
    operation_id = uuid.uuid4().hex
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    return {
        "operationId": operation_id,
        "type": "update",
        "createdTime": now,
        "lastUpdatedTime": now,
        "status": "succeeded",
        "percentComplete": 100,
        "results": {
            "studyProcessed": len(studies),
            "studyUpdated": len({key[1] for key in updated}),
            "instanceUpdated": len(updated),
        },
    }
