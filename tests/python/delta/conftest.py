"""Fixtures of the Delta tests: a simulated archive whose marts are built, and where Delta goes."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.archive import FakeArchive, seed


@pytest.fixture
def archive(tmp_path: Path) -> FakeArchive:
    """Two partitions, three studies, five series, eleven instances, built into marts."""
    fake = FakeArchive(tmp_path / "lake")
    seed(fake)
    fake.build()
    return fake


@pytest.fixture
def delta_uri(tmp_path: Path) -> str:
    return str(tmp_path / "delta")
