"""The local DICOM service: a real HTTP server imitating Azure's DICOM service and change feed."""

from extractor.server.app import LocalDicomService, serve_forever
from extractor.server.faults import FaultInjector
from extractor.server.options import ServiceOptions
from extractor.server.store import DEFAULT_PARTITION, DicomStore

__all__ = [
    "DEFAULT_PARTITION",
    "DicomStore",
    "FaultInjector",
    "LocalDicomService",
    "ServiceOptions",
    "serve_forever",
]
