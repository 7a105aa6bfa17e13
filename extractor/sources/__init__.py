"""Sources: what reads a DICOM server's changes and hands them to the landing zone.

`azure/` reads the Azure DICOM service's v2 change feed; `orthanc/` reads Orthanc's change log
and finds deletes by reconciliation. Both share the contract in `contract.py` (the feed position,
the landing zone as a source sees it, what one extract returns), the HTTP session in `http.py`
and the errors in `errors.py`, which the job turns into exit codes.
"""

from extractor.sources.contract import (
    FEED_BEGINNING,
    Batches,
    ExtractSummary,
    LandingZone,
    OnPage,
    Row,
    Watermark,
)
from extractor.sources.errors import AuthFailure, MalformedResponse, SourceError, SourceUnreachable
from extractor.sources.http import make_session, public_url

__all__ = [
    "FEED_BEGINNING",
    "AuthFailure",
    "Batches",
    "ExtractSummary",
    "LandingZone",
    "MalformedResponse",
    "OnPage",
    "Row",
    "SourceError",
    "SourceUnreachable",
    "Watermark",
    "make_session",
    "public_url",
]
