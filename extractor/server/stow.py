"""STOW-RS: the DICOM files in an upload body, and the answer after storing each one.

Choices: a part that is not DICOM at all is reported in FailedSOPSequence with FailureReason 272
(processing failure) rather than failing the whole request with 415, so one bad part in a
multipart upload does not hide the good ones; a wrong Content-Type answers 415. A multipart body
without a ``type`` parameter is accepted (Azure documents ``type`` as required).
"""

from __future__ import annotations

import logging
from email.message import Message
from typing import Any
from urllib.parse import quote

from extractor.server.dicom_json import NotDicomError, dataset_to_metadata, read_dataset
from extractor.server.errors import HttpError
from extractor.server.store import DEFAULT_PARTITION, DicomStore, DuplicateInstanceError

log = logging.getLogger("extractor.server")

# Azure's FailureReason codes (dicom-server's FailureReasonCodes).
PROCESSING_FAILURE = 272
MISMATCH_OR_MISSING_UID = 43265
SOP_INSTANCE_ALREADY_EXISTS = 45070

# The DICOM JSON attributes of a STOW-RS answer.
RETRIEVE_URL = "00081190"
REFERENCED_SOP_SEQUENCE = "00081199"
FAILED_SOP_SEQUENCE = "00081198"
FAILURE_REASON = "00081197"
REFERENCED_SOP_CLASS_UID = "00081150"
REFERENCED_SOP_INSTANCE_UID = "00081155"


# -- the upload body ----------------------------------------------------------------------------


def stow_parts(content_type: str, body: bytes) -> list[bytes]:
    """The DICOM files in a STOW request body; wrong media types answer 415."""
    parsed = _media_type(content_type)
    media = parsed.get_content_type()
    if media == "application/dicom":
        return [body]
    if media != "multipart/related":
        raise HttpError(
            415,
            f"Unsupported Content-Type '{media}': use application/dicom or "
            'multipart/related; type="application/dicom".',
        )
    part_type = parsed.get_param("type")
    if part_type is not None and str(part_type).lower() != "application/dicom":
        raise HttpError(415, f"Unsupported multipart type '{part_type}': use application/dicom.")
    boundary = parsed.get_param("boundary")
    if not boundary:
        raise HttpError(400, "The multipart Content-Type has no boundary.")
    files: list[bytes] = []
    for headers, content in split_multipart(body, str(boundary)):
        part_media = _media_type(headers.get("content-type", "application/dicom"))
        if part_media.get_content_type() != "application/dicom":
            raise HttpError(
                415, f"Unsupported part Content-Type '{part_media.get_content_type()}'."
            )
        files.append(content)
    if not files:
        raise HttpError(400, "The multipart body holds no parts.")
    return files


def _media_type(header: str) -> Message:
    # email.message parses parameters (quoting, case) the way HTTP media types need.
    message = Message()
    message["content-type"] = header or "application/octet-stream"
    return message


def split_multipart(body: bytes, boundary: str) -> list[tuple[dict[str, str], bytes]]:
    """Parts of a multipart body (RFC 2046), binary-safe; the CRLF before a delimiter is its own."""
    delimiter = b"\r\n--" + boundary.encode("latin-1")
    segments = (b"\r\n" + body).split(delimiter)
    parts: list[tuple[dict[str, str], bytes]] = []
    for segment in segments[1:]:
        if segment.startswith(b"--"):
            break
        line_end = segment.find(b"\r\n")
        if line_end < 0:
            raise HttpError(400, "Malformed multipart body.")
        rest = segment[line_end + 2 :]
        if rest.startswith(b"\r\n"):  # a part with no headers
            header_block, content = b"", rest[2:]
        else:
            header_end = rest.find(b"\r\n\r\n")
            if header_end < 0:
                raise HttpError(400, "Malformed multipart part headers.")
            header_block, content = rest[:header_end], rest[header_end + 4 :]
        headers: dict[str, str] = {}
        for line in header_block.decode("latin-1").split("\r\n"):
            if ":" in line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        parts.append((headers, content))
    return parts


# -- storing and answering ----------------------------------------------------------------------


def store_instances(
    store: DicomStore, base_url: str, partition: str, study: str | None, files: list[bytes]
) -> tuple[int, dict[str, Any]]:
    """Store each file; the status and DICOM JSON body of the STOW-RS answer.

    ``study`` is the one named in the URL, if any: instances of another study are refused.
    """
    referenced: list[dict[str, Any]] = []
    failed: list[dict[str, Any]] = []
    stored_study: str | None = None
    for data in files:
        try:
            ds = read_dataset(data)
        except NotDicomError:
            failed.append(_failure(PROCESSING_FAILURE))
            continue
        study_uid, series_uid, sop_uid = (
            str(ds.get(k, "") or "").strip()
            for k in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID")
        )
        sop_class = str(ds.get("SOPClassUID", "") or "").strip() or None
        reference = {
            REFERENCED_SOP_CLASS_UID: _element("UI", sop_class),
            REFERENCED_SOP_INSTANCE_UID: _element("UI", sop_uid or None),
        }
        missing = not (study_uid and series_uid and sop_uid)
        if missing or (study is not None and study_uid != study):
            failed.append(_failure(MISMATCH_OR_MISSING_UID, reference))
            continue
        try:
            metadata = dataset_to_metadata(ds)
            store.add_instance(partition, study_uid, series_uid, sop_uid, metadata)
        except DuplicateInstanceError:
            failed.append(_failure(SOP_INSTANCE_ALREADY_EXISTS, reference))
            continue
        except Exception:
            # One unconvertible file must not fail the others; the log keeps the traceback.
            log.exception("could not convert an uploaded instance")
            failed.append(_failure(PROCESSING_FAILURE, reference))
            continue
        stored_study = study_uid
        study_url = _study_url(base_url, partition, study_uid)
        url = f"{study_url}/series/{series_uid}/instances/{sop_uid}"
        referenced.append({**reference, RETRIEVE_URL: _element("UR", url)})
    answer: dict[str, Any] = {}
    if stored_study is not None:
        answer[RETRIEVE_URL] = _element("UR", _study_url(base_url, partition, stored_study))
    if referenced:
        answer[REFERENCED_SOP_SEQUENCE] = {"vr": "SQ", "Value": referenced}
    if failed:
        answer[FAILED_SOP_SEQUENCE] = {"vr": "SQ", "Value": failed}
    status = 409 if not referenced else (202 if failed else 200)
    return status, answer


def _study_url(base_url: str, partition: str, study: str) -> str:
    prefix = "" if partition == DEFAULT_PARTITION else f"/partitions/{quote(partition)}"
    return f"{base_url}/v2{prefix}/studies/{study}"


def _element(vr: str, value: Any) -> dict[str, Any]:
    # DICOM JSON leaves out "Value" for an empty attribute rather than sending null.
    return {"vr": vr} if value is None else {"vr": vr, "Value": [value]}


def _failure(reason: int, reference: dict[str, Any] | None = None) -> dict[str, Any]:
    return {**(reference or {}), FAILURE_REASON: _element("US", reason)}
