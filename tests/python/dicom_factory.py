"""Small real DICOM files for tests, and the HTTP calls that change a service's archive."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from io import BytesIO

import requests
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"


def make_instance(
    study: str | None = None,
    series: str | None = None,
    sop: str | None = None,
    **attributes: object,
) -> bytes:
    """A valid Part 10 file with the given UIDs (fresh ones where omitted) and attributes."""
    dataset = Dataset()
    dataset.SOPClassUID = CT_IMAGE_STORAGE
    dataset.SOPInstanceUID = sop or generate_uid()
    dataset.StudyInstanceUID = study or generate_uid()
    dataset.SeriesInstanceUID = series or generate_uid()
    dataset.Modality = "CT"
    dataset.PatientName = "Test^Patient"
    dataset.PatientID = "P-1"
    dataset.StudyDate = "20240131"
    for keyword, value in attributes.items():
        setattr(dataset, keyword, value)
    dataset.file_meta = FileMetaDataset()
    dataset.file_meta.MediaStorageSOPClassUID = dataset.SOPClassUID
    dataset.file_meta.MediaStorageSOPInstanceUID = dataset.SOPInstanceUID
    dataset.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    buffer = BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def stow(service_url: str, files: Iterable[bytes]) -> requests.Response:
    """Upload files in one multipart/related STOW-RS request; raises unless all were stored."""
    boundary = uuid.uuid4().hex
    body = BytesIO()
    for content in files:
        body.write(f"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode())
        body.write(content)
        body.write(b"\r\n")
    body.write(f"--{boundary}--\r\n".encode())
    response = requests.post(
        f"{service_url}/v2/studies",
        data=body.getvalue(),
        headers={
            "Content-Type": f'multipart/related; type="application/dicom"; boundary={boundary}',
            "Accept": "application/dicom+json",
        },
        timeout=30,
    )
    response.raise_for_status()
    return response


def delete(service_url: str, study: str, series: str | None = None, sop: str | None = None) -> None:
    path = f"{service_url}/v2/studies/{study}"
    if series:
        path += f"/series/{series}"
    if sop:
        path += f"/instances/{sop}"
    requests.delete(path, timeout=30).raise_for_status()


def bulk_update(service_url: str, studies: list[str], change: dict[str, object]) -> None:
    response = requests.post(
        f"{service_url}/v2/studies/$bulkUpdate",
        json={"studyInstanceUids": studies, "changeDataset": change},
        timeout=30,
    )
    response.raise_for_status()


def free_port() -> int:
    """A loopback port nobody listens on (taken from the OS, then released)."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
