"""DICOM bytes to the metadata the service stores: DICOM JSON (PS3.18 Annex F) minus bulk data.

Azure strips bulk-data attributes from stored metadata, also inside sequences, and never keeps
the file meta group (0002); invalid optional attributes are dropped at upload, which is what
``suppress_invalid_tags`` gives us.
"""

from __future__ import annotations

from io import BytesIO
from typing import Any

from pydicom import config, dcmread
from pydicom.datadict import dictionary_has_tag
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError

BULK_DATA_VRS = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "UN"})

# Like the real service, keep values as uploaded rather than warn about each odd one (pydicom's
# own sample files have an over-long UID): typing and flagging values is the models' job.
config.settings.reading_validation_mode = config.IGNORE


class NotDicomError(ValueError):
    """The bytes do not hold a DICOM dataset."""


def _is_bulk(vr: str) -> bool:
    # Unresolved ambiguous VRs read like "OB or OW"; any bulk alternative makes it bulk.
    return any(part.strip() in BULK_DATA_VRS for part in str(vr).split(" or "))


def _is_dropped(tag_group: int, tag_element: int) -> bool:
    # File meta lives outside the dataset on Azure; group lengths are not part of DICOM JSON.
    return tag_group == 0x0002 or tag_element == 0x0000


def _strip_dataset(ds: Dataset) -> None:
    """Delete bulk-data elements before conversion so pixel data is never base64-encoded."""
    for elem in list(ds):
        if _is_bulk(elem.VR) or _is_dropped(elem.tag.group, elem.tag.element):
            del ds[elem.tag]
        elif elem.VR == "SQ":
            for item in elem.value:
                _strip_dataset(item)


def strip_bulk_json(metadata: dict[str, Any]) -> dict[str, Any]:
    """The same rule on DICOM JSON, recursing into SQ items; returns a new dict."""
    kept: dict[str, Any] = {}
    for tag, element in metadata.items():
        vr = element.get("vr", "")
        if _is_bulk(vr) or _is_dropped(int(tag[:4], 16), int(tag[4:], 16)):
            continue
        if vr == "SQ" and isinstance(element.get("Value"), list):
            element = {**element, "Value": [strip_bulk_json(item) for item in element["Value"]]}
        kept[tag] = element
    return kept


def dataset_to_metadata(ds: Dataset) -> dict[str, Any]:
    """DICOM JSON of ``ds`` without bulk data or file meta. Mutates ``ds``."""
    _strip_dataset(ds)
    return strip_bulk_json(ds.to_json_dict(suppress_invalid_tags=True))


def read_dataset(data: bytes) -> Dataset:
    """Parse one DICOM file (preamble optional, like pydicom's ``force=True``).

    ``force=True`` turns any bytes into "elements", so a body counts as DICOM only if it has the
    DICM preamble or at least one element the DICOM dictionary knows.
    """
    try:
        ds = dcmread(BytesIO(data), force=True)
    except (InvalidDicomError, EOFError, ValueError, OSError, KeyError, TypeError) as exc:
        raise NotDicomError(str(exc)) from exc
    has_preamble = data[128:132] == b"DICM"
    if not has_preamble and not any(dictionary_has_tag(elem.tag) for elem in ds):
        raise NotDicomError("no DICOM preamble and no known DICOM attribute")
    return ds


def bytes_to_metadata(data: bytes) -> dict[str, Any]:
    """Convenience for tests and STOW: raw file bytes to stored metadata."""
    return dataset_to_metadata(read_dataset(data))
