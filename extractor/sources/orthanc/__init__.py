"""Orthanc: new instances from its `/changes` log, their DICOM JSON from the DICOMweb plugin, and
deletes found by reconciling what has landed with the instances Orthanc lists.

`settings.py` (what a run is told, basic credentials), `client.py` (the REST calls), `sequences.py`
(landed sequence numbers), `extract.py` (one run), `reconcile.py` (finding deletes).
"""

from extractor.sources.orthanc.client import OrthancClient
from extractor.sources.orthanc.extract import (
    ORTHANC_PARTITION,
    OrthancExtractSummary,
    extract_orthanc,
    parse_orthanc_date,
)
from extractor.sources.orthanc.reconcile import Reconciliation, reconcile
from extractor.sources.orthanc.sequences import landed_sequence, orthanc_seq
from extractor.sources.orthanc.settings import OrthancSettings, basic_auth_from_env

__all__ = [
    "ORTHANC_PARTITION",
    "OrthancClient",
    "OrthancExtractSummary",
    "OrthancSettings",
    "Reconciliation",
    "basic_auth_from_env",
    "extract_orthanc",
    "landed_sequence",
    "orthanc_seq",
    "parse_orthanc_date",
    "reconcile",
]
