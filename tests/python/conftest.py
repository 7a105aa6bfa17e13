"""Fixtures shared by the whole test suite; module-specific ones live in their own modules."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from extractor.server import LocalDicomService, ServiceOptions


@pytest.fixture
def dicom_service() -> Iterator[LocalDicomService]:
    """A fresh local DICOM service on a free 127.0.0.1 port, with default options."""
    with LocalDicomService(host="127.0.0.1", port=0, options=ServiceOptions()) as service:
        yield service


@pytest.fixture
def lake_dir(tmp_path: Path) -> Path:
    return tmp_path / "lake"
