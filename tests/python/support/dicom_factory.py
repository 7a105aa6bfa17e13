"""Small real DICOM files for tests, and the HTTP calls that change a service's archive."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterable
from io import BytesIO

import requests
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"


def part10(dataset: Dataset) -> bytes:
    """A Part 10 file of a dataset built attribute by attribute (any VR, any value)."""
    dataset.file_meta = FileMetaDataset()
    dataset.file_meta.MediaStorageSOPClassUID = dataset.SOPClassUID
    dataset.file_meta.MediaStorageSOPInstanceUID = dataset.SOPInstanceUID
    dataset.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    buffer = BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def add_bulk_data(dataset: Dataset) -> None:
    """Bulk data at the top level (pixel data, an OL) and inside a sequence item (an OB)."""
    item = Dataset()
    item.CodeValue = "123"
    item.add_new(0x00420011, "OB", b"\x01\x02")  # EncapsulatedDocument, bulk data in an item
    dataset.ReferencedImageSequence = Sequence([item])
    dataset.add_new(0x00660040, "OL", b"\x00\x00\x00\x01")  # LongPrimitivePointIndexList
    dataset.Rows, dataset.Columns, dataset.BitsAllocated = 2, 2, 8
    dataset.PixelData = b"\x00\x01\x02\x03"


def make_instance(
    study: str | None = None,
    series: str | None = None,
    sop: str | None = None,
    *,
    bulk_data: bool = False,
    **attributes: object,
) -> bytes:
    """A valid Part 10 file with the given UIDs (fresh ones where omitted) and attributes.

    With ``bulk_data``, it also carries bulk data (see ``add_bulk_data``) before the attributes
    are set.
    """
    dataset = Dataset()
    dataset.SOPClassUID = CT_IMAGE_STORAGE
    dataset.SOPInstanceUID = sop or generate_uid()
    dataset.StudyInstanceUID = study or generate_uid()
    dataset.SeriesInstanceUID = series or generate_uid()
    dataset.Modality = "CT"
    dataset.PatientName = "Test^Patient"
    dataset.PatientID = "P-1"
    dataset.StudyDate = "20240131"
    if bulk_data:
        add_bulk_data(dataset)
    for keyword, value in attributes.items():
        setattr(dataset, keyword, value)
    return part10(dataset)


def _archive_url(service_url: str, partition: str | None, study: str | None = None) -> str:
    """``{service}/v2[/partitions/{partition}]/studies[/{study}]``."""
    url = f"{service_url}/v2" + (f"/partitions/{partition}" if partition else "") + "/studies"
    return f"{url}/{study}" if study else url


def _checked(response: requests.Response, check: bool) -> requests.Response:
    if check:
        response.raise_for_status()
    return response


def stow(
    service_url: str,
    files: Iterable[bytes],
    *,
    partition: str | None = None,
    study: str | None = None,
    headers: dict[str, str] | None = None,
    check: bool = True,
) -> requests.Response:
    """Upload files in one multipart/related STOW-RS request (to a partition, to a study).

    Raises unless all were stored; with ``check=False`` the response is returned as it is.
    """
    boundary = uuid.uuid4().hex
    body = BytesIO()
    for content in files:
        body.write(f"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode())
        body.write(content)
        body.write(b"\r\n")
    body.write(f"--{boundary}--\r\n".encode())
    response = requests.post(
        _archive_url(service_url, partition, study),
        data=body.getvalue(),
        headers={
            "Content-Type": f'multipart/related; type="application/dicom"; boundary={boundary}',
            "Accept": "application/dicom+json",
            **(headers or {}),
        },
        timeout=30,
    )
    return _checked(response, check)


def delete(
    service_url: str,
    study: str,
    series: str | None = None,
    sop: str | None = None,
    *,
    partition: str | None = None,
    check: bool = True,
) -> requests.Response:
    """Delete a study, a series or an instance; raises on failure unless ``check=False``."""
    path = _archive_url(service_url, partition, study)
    if series:
        path += f"/series/{series}"
    if sop:
        path += f"/instances/{sop}"
    return _checked(requests.delete(path, timeout=30), check)


def bulk_update(
    service_url: str,
    studies: list[str],
    change: dict[str, object],
    *,
    partition: str | None = None,
    check: bool = True,
) -> requests.Response:
    """Start a bulk update of whole studies; raises on failure unless ``check=False``."""
    response = requests.post(
        f"{_archive_url(service_url, partition)}/$bulkUpdate",
        json={"studyInstanceUids": studies, "changeDataset": change},
        timeout=30,
    )
    return _checked(response, check)


def free_port(host: str = "127.0.0.1") -> int:
    """A port on ``host`` nobody listens on (taken from the OS, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])
