"""The local DICOM service: a real HTTP server imitating Azure's DICOM service and change feed,
and the sample data (real DICOM files shipped with pydicom) the demo and the tests load into it."""

from extractor.server.app import LocalDicomService, serve_forever
from extractor.server.faults import FaultInjector
from extractor.server.options import ServiceOptions
from extractor.server.samples import load_samples, sample_files
from extractor.server.store import DEFAULT_PARTITION, DicomStore

__all__ = [
    "DEFAULT_PARTITION",
    "DicomStore",
    "FaultInjector",
    "LocalDicomService",
    "ServiceOptions",
    "load_samples",
    "sample_files",
    "serve_forever",
]
