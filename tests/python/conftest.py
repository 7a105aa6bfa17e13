"""Fixtures shared by the whole test suite; module-specific ones live in their own modules."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """`dicom-lake demo` run once, as a user runs it: its lake (read, never changed) and what it
    printed."""
    lake = tmp_path_factory.mktemp("demo") / "demo-lake"
    finished = subprocess.run(
        [sys.executable, "-m", "extractor", "demo", "--lake", str(lake)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "NO_COLOR": "1"},
    )
    assert finished.returncode == 0, finished.stderr[-3000:]
    return {"lake": lake, "stdout": finished.stdout}
