"""Apply a policy to a DICOM JSON document, to the feed's UID columns and to its file paths.

The policy applies at every depth: the items of a kept sequence are protected in turn, a
dropped sequence goes whole. A protected document records how, as PS3.15 asks: Patient Identity
Removed (0012,0062) YES, De-identification Method (0012,0063) naming the policy, and, when
dates moved, Longitudinal Temporal Information Modified (0028,0303) MODIFIED.
"""

from __future__ import annotations

import json
import re
from datetime import date
from typing import Any

from extractor.privacy.keyed import pseudonym, shifted_date, uid
from extractor.privacy.policy import Policy

TEXT_VRS = {"AE", "AS", "CS", "LO", "LT", "SH", "ST", "UC", "UR", "UT"}
"""VRs a pseudonym is a valid value of; `hash` drops a value of any other VR but UI and PN."""
_TAG_TEXT = re.compile(r"[0-9A-F]{8}")
_UID_SEGMENT = re.compile(r"(\d+(?:\.\d+)+)(\.[A-Za-z][A-Za-z0-9]*)?")

Element = dict[str, Any]
UID_COLUMNS = {
    "study_instance_uid": "0020000D",
    "series_instance_uid": "0020000E",
    "sop_instance_uid": "00080018",
}
"""The feed's columns holding a UID, and its tag: each is replaced as the documents' are."""


def protect_document(text: str, policy: Policy) -> str | None:
    """The document with the policy applied, or None when it is not a JSON object (it cannot be
    protected, so it is not carried: its quarantine entry names why)."""
    try:
        document = json.loads(text)
    except ValueError:
        return None
    if not isinstance(document, dict):
        return None
    protected = _dataset(document, policy, _patient_id(document))
    protected.update(_marks(policy))
    return json.dumps(dict(sorted(protected.items())), separators=(",", ":"), ensure_ascii=False)


def protect_uid(value: str | None, tag: str, policy: Policy) -> str | None:
    """A feed column holding the UID of `tag` (study, series or instance), as the document's."""
    if value is None or policy.action(tag) != "hash":
        return value
    return uid(value)


def protect_path(path: str | None, policy: Policy) -> str | None:
    """A file path with each segment that is a UID replaced as the instance's UID is."""
    if path is None or policy.action("00080018") != "hash":
        return path
    return "/".join(_path_segment(segment) for segment in path.split("/"))


def _path_segment(segment: str) -> str:
    match = _UID_SEGMENT.fullmatch(segment)
    return segment if match is None else uid(match.group(1)) + (match.group(2) or "")


def _marks(policy: Policy) -> dict[str, Element]:
    marks = {
        "00120062": {"vr": "CS", "Value": ["YES"]},
        "00120063": {"vr": "LO", "Value": [f"dicom-lake privacy policy {policy.fingerprint}"]},
    }
    if policy.shifts_dates:
        marks["00280303"] = {"vr": "CS", "Value": ["MODIFIED"]}
    return marks


def _patient_id(document: dict[str, Any]) -> str:
    element = document.get("00100020")
    values = element.get("Value") if isinstance(element, dict) else None
    return str(values[0]) if isinstance(values, list) and values and values[0] is not None else ""


def _dataset(elements: dict[str, Any], policy: Policy, patient: str) -> dict[str, Any]:
    creators = {
        (key[:4].upper(), key[6:8].upper()): _first_text(element)
        for key, element in elements.items()
        if _is_private(key) and key[4:6] == "00" and key[6:8].upper() >= "10"
    }
    protected = {}
    for key, element in elements.items():
        action = _action(key.upper(), creators, policy)
        kept = _element(element, action, policy, patient)
        if kept is not None:
            protected[key] = kept
    return protected


def _is_private(key: str) -> bool:
    """An odd group: the group's last hex digit is odd (a key that is not a tag is dropped)."""
    return len(key) == 8 and key[3] in "13579BDFbdf"


def _action(tag: str, creators: dict[tuple[str, str], str | None], policy: Policy) -> str:
    if not _is_private(tag):
        return policy.action(tag) if _TAG_TEXT.fullmatch(tag) else "drop"
    if not _TAG_TEXT.fullmatch(tag):
        return "drop"  # not a tag: nothing says what it holds
    group, element = tag[:4], int(tag[4:], 16)
    if 0x10 <= element <= 0xFF:
        creator = creators.get((group, tag[6:8]))
        if creator is not None and policy.keeps_creator(group, creator):
            return "keep"
        return policy.action(tag)
    creator = creators.get((group, tag[4:6])) if element >= 0x1000 else None
    return policy.action(tag, (group, creator, tag[6:8]) if creator is not None else None)


def _first_text(element: object) -> str | None:
    values = element.get("Value") if isinstance(element, dict) else None
    if isinstance(values, list) and values and isinstance(values[0], str):
        return values[0].strip()
    return None


def _element(element: object, action: str, policy: Policy, patient: str) -> object | None:
    if action == "drop" or not isinstance(element, dict):
        return None if action == "drop" else element
    vr = element.get("vr")
    values = element.get("Value")
    if vr == "SQ":
        if action != "keep":
            return None  # a pseudonym or a shift means nothing for a sequence: it goes whole
        if not isinstance(values, list):
            return element
        items = [_dataset(item, policy, patient) for item in values if isinstance(item, dict)]
        return {**element, "Value": items}
    if action == "keep":
        return element
    if not isinstance(values, list):
        # bulk data (InlineBinary, BulkDataURI) cannot be pseudonymised; an empty value leaks
        # nothing and stays
        return None if set(element) - {"vr"} else element
    replaced = [_value(value, vr, action, patient) for value in values]
    if any(value is _DROPPED for value in replaced):
        return None
    return {**element, "Value": replaced}


_DROPPED = object()


def _value(value: object, vr: object, action: str, patient: str) -> object:
    if value is None:
        return None
    if action == "hash":
        if vr == "UI" and isinstance(value, str):
            return uid(value)
        if vr == "PN" and isinstance(value, dict):
            return {name: pseudonym(str(part)) for name, part in value.items()}
        if vr in TEXT_VRS:
            return pseudonym(str(value))
        return _DROPPED
    if action == "shift":
        if vr == "TM":
            return value  # the offset is whole days
        if vr in ("DA", "DT") and isinstance(value, str):
            return _shifted(value, patient)
    return _DROPPED


def _shifted(value: str, patient: str) -> object:
    """A DA or DT value moved back by the patient's offset; one without a full date goes."""
    text = value.strip()
    if len(text) < 8 or not text[:8].isdigit():
        return _DROPPED
    try:
        moved = shifted_date(date(int(text[:4]), int(text[4:6]), int(text[6:8])), patient)
    except (ValueError, OverflowError):
        return _DROPPED
    return f"{moved.year:04d}{moved.month:02d}{moved.day:02d}" + text[8:]
