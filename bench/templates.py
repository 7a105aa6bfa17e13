"""Metadata templates made once from the real DICOM files that ship with pydicom.

Each template is one file's DICOM JSON as the service stores it (bulk data and file meta
stripped, by ``extractor.server.dicom_json``), with the values that differ per patient, study,
series and instance replaced by named fields. Rendering an instance is then one
``str.format_map`` over the template's text, fast enough for a million instances in minutes.

Shaping, so every instance has about 100 attributes and 5 to 20 KB of JSON:

- a file with more than ``MAX_ATTRIBUTES`` top-level attributes loses its highest-numbered
  private groups (CT_small's GE groups), a file with fewer than ``MIN_ATTRIBUTES`` gains public
  attributes borrowed from the other files (equipment, acquisition, patient modules);
- a file whose JSON is over ``MAX_BYTES`` loses sequence items and has long texts cut;
- every instance carries a ReferencedImageSequence (or SourceImageSequence) whose number of items
  is chosen per series, which spreads the documents over 5 to 20 KB.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pydicom

from extractor.server.dicom_json import dataset_to_metadata

MIN_ATTRIBUTES = 90
MAX_ATTRIBUTES = 130
MIN_BYTES = 5_000
MAX_BYTES = 20_000
STANDARD_UID_ROOT = "1.2.840.10008."

# (file, series size range) per study kind; only files that pydicom ships in test_files.
KIND_SERIES: dict[str, list[tuple[str, tuple[int, int]]]] = {
    "CT": [
        ("CT_small.dcm", (20, 1000)),
        ("693_J2KI.dcm", (20, 1000)),
        ("J2K_pixelrep_mismatch.dcm", (20, 600)),
    ],
    "MR": [("MR_small.dcm", (10, 400)), ("examples_overlay.dcm", (10, 300))],
    "US": [
        ("examples_ybr_color.dcm", (1, 60)),
        ("examples_palette.dcm", (1, 40)),
        ("examples_jpeg2k.dcm", (1, 40)),
        ("examples_rgb_color.dcm", (1, 40)),
    ],
    "NM": [("JPEG2000.dcm", (1, 120)), ("JPEG-lossy.dcm", (1, 120))],
    "OT": [
        ("SC_rgb_small_odd.dcm", (1, 10)),
        ("SC_rgb_dcmtk_+eb+cr.dcm", (1, 10)),
        ("SC_rgb_jpeg_gdcm.dcm", (1, 10)),
    ],
    "ECG": [("waveform_ecg.dcm", (1, 3))],
    "SEG": [("liver_1frame.dcm", (1, 5))],
    "SR": [("test-SR.dcm", (1, 2)), ("reportsi.dcm", (1, 2))],
    "RT": [("rtstruct.dcm", (1, 1)), ("rtplan.dcm", (1, 2)), ("rtdose.dcm", (1, 3))],
}
# Donors of public attributes for small files, in order of preference.
DONORS = ("CT_small.dcm", "JPEG2000.dcm", "examples_overlay.dcm", "MR_small.dcm")

# Attributes every instance carries, set from the study/series/instance: tag -> (vr, field).
# Fields ending in _json are inserted as ready JSON (a number, an object).
STAMPED: dict[str, tuple[str, str]] = {
    "00080018": ("UI", "sop_uid"),
    "0020000D": ("UI", "study_uid"),
    "0020000E": ("UI", "series_uid"),
    "00100010": ("PN", "patient_name_json"),
    "00100020": ("LO", "patient_id"),
    "00100030": ("DA", "birth_date"),
    "00100040": ("CS", "sex"),
    "00101010": ("AS", "age"),
    "00080020": ("DA", "study_date"),
    "00080030": ("TM", "study_time"),
    "00080050": ("SH", "accession"),
    "00200010": ("SH", "study_id"),
    "00081030": ("LO", "study_description"),
    "00080021": ("DA", "study_date"),
    "00080031": ("TM", "series_time"),
    "00200011": ("IS", "series_number_json"),
    "00080023": ("DA", "study_date"),
    "00080033": ("TM", "content_time"),
    "00200013": ("IS", "instance_number_json"),
}
FRAME_OF_REFERENCE = "00200052"
REFERENCE_SEQUENCES = ("00081140", "00082112", "00081250")
_MARK = "\ue000"


@dataclass(frozen=True)
class Template:
    name: str
    modality: str
    sop_class_uid: str
    text: str  # JSON with {field} placeholders and doubled literal braces
    base_bytes: int  # rendered size without reference items
    attributes: int
    reference_uids: int  # how many per-series UIDs the template needs ({ref_0} ...)


def test_files_dir() -> Path:
    return Path(pydicom.__file__).parent / "data" / "test_files"


def _load(name: str) -> dict[str, Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = pydicom.dcmread(test_files_dir() / name, force=True)
        return dataset_to_metadata(ds)


def _size(document: dict[str, Any]) -> int:
    return len(json.dumps(document, separators=(",", ":")))


def _shrink(document: dict[str, Any]) -> None:
    """Drop sequence items and cut long texts, largest first, until under MAX_BYTES."""
    while _size(document) > MAX_BYTES - 2_000:
        tag = max(document, key=lambda t: _size({t: document[t]}))
        element = document[tag]
        values = element.get("Value")
        if element.get("vr") == "SQ" and isinstance(values, list) and len(values) > 1:
            element["Value"] = values[: len(values) // 2]
        elif isinstance(values, list) and values and isinstance(values[0], str):
            element["Value"] = [value[: max(64, len(value) // 2)] for value in values]
        else:
            del document[tag]


def _trim_private(document: dict[str, Any]) -> None:
    """Remove whole private groups from the highest down while over MAX_ATTRIBUTES."""
    while len(document) > MAX_ATTRIBUTES:
        private = sorted({t[:4] for t in document if int(t[:4], 16) % 2 == 1})
        if not private:
            return
        group = private[-1]
        for tag in [t for t in document if t.startswith(group)]:
            del document[tag]


def _borrow(document: dict[str, Any], donors: list[dict[str, Any]]) -> None:
    """Add public, non-UID, non-sequence attributes from other files up to MIN_ATTRIBUTES."""
    for donor in donors:
        for tag, element in sorted(donor.items()):
            if len(document) >= MIN_ATTRIBUTES:
                return
            group = int(tag[:4], 16)
            if tag in document or group % 2 == 1 or group == 0x0028 or tag in STAMPED:
                continue
            if element.get("vr") in ("SQ", "UI") or "Value" not in element:
                continue
            document[tag] = element


def _placeholder(field: str) -> str:
    return f"{_MARK}{field}{_MARK}"


def _mark_values(value: Any, uid_fields: dict[str, str], counter: list[int]) -> Any:
    """Replace dates, times and non-standard UIDs, recursively, by placeholders."""
    if isinstance(value, dict):
        if "vr" in value:
            vr = value["vr"]
            values = value.get("Value")
            if isinstance(values, list) and values:
                if vr == "UI":
                    new = []
                    for uid in values:
                        if not isinstance(uid, str) or uid.startswith(STANDARD_UID_ROOT):
                            new.append(uid)
                            continue
                        if uid not in uid_fields:
                            uid_fields[uid] = f"ref_{counter[0]}"
                            counter[0] += 1
                        new.append(_placeholder(uid_fields[uid]))
                    return {**value, "Value": new}
                if vr == "DA" and all(isinstance(v, str) for v in values):
                    return {**value, "Value": [_placeholder("study_date") for _ in values]}
                if vr == "TM" and all(isinstance(v, str) for v in values):
                    return {**value, "Value": [_placeholder("series_time") for _ in values]}
                if vr == "DT" and all(isinstance(v, str) for v in values):
                    return {
                        **value,
                        "Value": [_placeholder("acquisition_datetime") for _ in values],
                    }
                if vr == "SQ":
                    items = [_mark_values(item, uid_fields, counter) for item in values]
                    return {**value, "Value": items}
            return value
        return {tag: _mark_values(element, uid_fields, counter) for tag, element in value.items()}
    return value


@cache
def templates() -> dict[str, Template]:
    """Every template used by KIND_SERIES, by file name (built once per process)."""
    names = sorted({name for entries in KIND_SERIES.values() for name, _ in entries})
    raw = {name: _load(name) for name in sorted({*names, *DONORS})}
    donors = [raw[name] for name in DONORS]
    built: dict[str, Template] = {}
    for name in names:
        document = json.loads(json.dumps(raw[name]))
        _trim_private(document)
        _shrink(document)
        _borrow(document, [d for n, d in zip(DONORS, donors, strict=True) if n != name])
        built[name] = _build(name, document)
    return built


def _build(name: str, document: dict[str, Any]) -> Template:
    def first(tag: str) -> str | None:
        values = document.get(tag, {}).get("Value") or [None]
        return values[0] if isinstance(values[0], str) else None

    modality = first("00080060") or "OT"
    sop_class = first("00080016") or "1.2.840.10008.5.1.4.1.1.7"
    # The key UIDs, wherever they appear (SR and SEG reference their own study and series).
    uid_fields = {
        uid: field
        for uid, field in (
            (first("0020000D"), "study_uid"),
            (first("0020000E"), "series_uid"),
            (first("00080018"), "sop_uid"),
            (first(FRAME_OF_REFERENCE), "frame_uid"),
        )
        if uid
    }
    counter = [0]
    document = _mark_values(document, uid_fields, counter)
    for tag, (vr, field) in STAMPED.items():
        document[tag] = {"vr": vr, "Value": [_placeholder(field)]}
    if FRAME_OF_REFERENCE in document:
        document[FRAME_OF_REFERENCE] = {"vr": "UI", "Value": [_placeholder("frame_uid")]}
    document["00080060"] = {"vr": "CS", "Value": [modality]}
    reference_tag = next(t for t in REFERENCE_SEQUENCES if t not in document)
    document[reference_tag] = {"vr": "SQ", "Value": [_placeholder("references_json")]}
    document = dict(sorted(document.items()))
    text = json.dumps(document, separators=(",", ":"), ensure_ascii=False)
    text = text.replace("{", "{{").replace("}", "}}")
    # Fields ending in _json are raw JSON: drop the quotes around their placeholder.
    fields = set()
    parts = text.split(_MARK)
    for index in range(1, len(parts), 2):
        fields.add(parts[index])
    for field in fields:
        if field.endswith("_json"):
            text = text.replace(f'"{_placeholder(field)}"', "{" + field + "}")
        else:
            text = text.replace(_placeholder(field), "{" + field + "}")
    template = Template(
        name=name,
        modality=modality,
        sop_class_uid=sop_class,
        text=text,
        base_bytes=0,
        attributes=len(document),
        reference_uids=counter[0],
    )
    sample = render_sample(template)
    return Template(**{**template.__dict__, "base_bytes": len(sample)})


def sample_values(template: Template) -> dict[str, str]:
    """Values for every field, for measuring a template (one reference item)."""
    uid = "1.2.826.0.1.3680043.8.498.1234567890.123456.12.1234"
    values = {
        "sop_uid": uid,
        "study_uid": uid,
        "series_uid": uid,
        "frame_uid": uid,
        "patient_name_json": '{"Alphabetic":"Doe^Jane"}',
        "patient_id": "PID00000000",
        "birth_date": "19700101",
        "sex": "F",
        "age": "054Y",
        "study_date": "20240101",
        "study_time": "101010",
        "accession": "ACC00000000",
        "study_id": "1234",
        "study_description": "CT CHEST WITH CONTRAST",
        "series_time": "101010",
        "series_number_json": "1",
        "content_time": "101010.123",
        "instance_number_json": "1",
        "acquisition_datetime": "20240101101010",
        "references_json": reference_item(template.sop_class_uid, uid),
    }
    values.update({f"ref_{n}": uid for n in range(template.reference_uids)})
    return values


def render_sample(template: Template) -> str:
    return template.text.format_map(sample_values(template))


def reference_item(sop_class_uid: str, sop_uid: str) -> str:
    return (
        f'{{"00081150":{{"vr":"UI","Value":["{sop_class_uid}"]}},'
        f'"00081155":{{"vr":"UI","Value":["{sop_uid}"]}}}}'
    )
