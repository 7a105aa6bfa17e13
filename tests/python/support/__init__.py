"""Helpers the tests share: real servers (Azurite, Orthanc), DICOM files, lakes to compare."""

from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[3]
"""The checkout the tests run in."""
