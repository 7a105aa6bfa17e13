"""Sample data for the demo and the tests: real DICOM files that ship inside pydicom.

Only files in ``pydicom/data/test_files`` are used (never ones pydicom would download). They cover
CT, MR, NM, US, OT, SEG, RTPLAN, RTDOSE, RTSTRUCT, SR and ECG. Two series hold several instances
(NM: 2, OT: 3). No shipped file pair gives one study with several series, so the samples have none.

:func:`load_samples` talks to a service over plain HTTP, so it works against any DICOM service
with a change feed, not only the local one.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from pathlib import Path

import pydicom
import requests

# One file per (study, series, instance); several in one series where pydicom has them.
SAMPLE_NAMES = (
    "CT_small.dcm",
    "MR_small.dcm",
    "JPEG-lossy.dcm",  # NM, same series as the next one
    "JPEG2000.dcm",
    "examples_ybr_color.dcm",  # US
    "SC_rgb_small_odd.dcm",  # OT, three instances of one series
    "SC_rgb_dcmtk_+eb+cr.dcm",
    "SC_rgb_jpeg_gdcm.dcm",
    "liver_1frame.dcm",  # SEG
    "rtplan.dcm",
    "rtdose.dcm",
    "rtstruct.dcm",
    "test-SR.dcm",
    "waveform_ecg.dcm",
)
# The demo deletes one NM instance and bulk-updates the OT study.
DELETE_NAME = "JPEG2000.dcm"
UPDATE_NAME = "SC_rgb_small_odd.dcm"
UPDATED_PATIENT_NAME = "Lake^Sample"
UPDATED_STUDY_DESCRIPTION = "Bulk-updated by dicom-lake samples"

_TIMEOUT = 60


@dataclass(frozen=True)
class InstanceUids:
    study: str
    series: str
    sop: str


@dataclass(frozen=True)
class SampleLoad:
    """What :func:`load_samples` did, for the demo's summary and for tests."""

    uploaded: int
    deleted: InstanceUids
    updated_study_instance_uid: str

    @property
    def deleted_sop_instance_uid(self) -> str:
        return self.deleted.sop


def _test_files_dir() -> Path:
    return Path(pydicom.__file__).parent / "data" / "test_files"


def _uids(path: Path) -> InstanceUids:
    ds = pydicom.dcmread(path, force=True, stop_before_pixels=True)
    return InstanceUids(str(ds.StudyInstanceUID), str(ds.SeriesInstanceUID), str(ds.SOPInstanceUID))


def sample_files() -> list[Path]:
    """The sample files present on disk, one per SOP Instance UID.

    A file missing from this pydicom build is skipped rather than fatal; a repeated SOP
    Instance UID would make the upload fail with 45070, so only its first file is kept.
    """
    seen: set[str] = set()
    files: list[Path] = []
    for name in SAMPLE_NAMES:
        path = _test_files_dir() / name
        if not path.is_file():
            continue
        sop = _uids(path).sop
        if sop not in seen:
            seen.add(sop)
            files.append(path)
    if not files:
        raise FileNotFoundError(f"no sample DICOM files found under {_test_files_dir()}")
    return files


def multipart_related(files: list[bytes]) -> tuple[bytes, str]:
    """A STOW-RS body and its Content-Type for several DICOM files."""
    boundary = uuid.uuid4().hex
    body = bytearray()
    for data in files:
        body += f"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode()
        body += data + b"\r\n"
    body += f"--{boundary}--\r\n".encode()
    return bytes(body), f'multipart/related; type="application/dicom"; boundary={boundary}'


def load_samples(url: str, token: str | None = None) -> SampleLoad:
    """Upload every sample (one STOW request), delete one instance, bulk-update one study.

    The feed then shows Create, Delete and Update rows. Raises ``requests.HTTPError`` if the
    service refuses any sample or step (e.g. the samples are already loaded: STOW answers 202
    or 409).
    """
    base = url.rstrip("/")
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    files = sample_files()
    body, content_type = multipart_related([path.read_bytes() for path in files])
    with requests.Session() as session:
        session.headers.update(headers)
        stow = session.post(
            f"{base}/v2/studies",
            data=body,
            headers={"Content-Type": content_type, "Accept": "application/dicom+json"},
            timeout=_TIMEOUT,
        )
        stow.raise_for_status()
        if stow.status_code != 200:  # 202: some samples were refused, e.g. already loaded
            raise requests.HTTPError(
                f"STOW stored only some samples (HTTP {stow.status_code})", response=stow
            )
        stored = len(stow.json().get("00081199", {}).get("Value", []))

        by_name = {path.name: path for path in files}
        victim = _uids(by_name.get(DELETE_NAME, files[-1]))
        session.delete(
            f"{base}/v2/studies/{victim.study}/series/{victim.series}/instances/{victim.sop}",
            timeout=_TIMEOUT,
        ).raise_for_status()

        study = _uids(by_name.get(UPDATE_NAME, files[0])).study
        change = {
            "00100010": {"vr": "PN", "Value": [{"Alphabetic": UPDATED_PATIENT_NAME}]},
            "00081030": {"vr": "LO", "Value": [UPDATED_STUDY_DESCRIPTION]},
        }
        session.post(
            f"{base}/v2/studies/$bulkUpdate",
            data=json.dumps({"studyInstanceUids": [study], "changeDataset": change}),
            headers={"Content-Type": "application/json"},
            timeout=_TIMEOUT,
        ).raise_for_status()
    return SampleLoad(uploaded=stored, deleted=victim, updated_study_instance_uid=study)
