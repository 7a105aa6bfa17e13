"""Engines without the policy's SQL functions (Fabric): with `privacy_functions: false` the
models call none, take the rows the landing zone protected, and stop at a row it did not."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from support.feed_events import assert_built, event, metadata, read
from support.lake_checks import copy_project

from extractor.build import build
from extractor.landing import LandingZone
from extractor.privacy import load_policy
from extractor.privacy.keyed import KEY_VARIABLE, pseudonym, uid


@pytest.fixture(autouse=True)
def key(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv(KEY_VARIABLE, "landing-only-test-key-0123456789abcdef")
    yield


@pytest.fixture
def project(tmp_path: Path) -> Path:
    project = copy_project(tmp_path)
    settings = project / "dbt_project.yml"
    settings.write_text(
        settings.read_text()
        .replace("  privacy_profile: none", "  privacy_profile: basic")
        .replace("  privacy_functions: true", "  privacy_functions: false")
    )
    return project


def events() -> list[dict[str, object]]:
    return [
        event(
            1,
            "Create",
            "1.2.3.1",
            metadata("1.2.3.1", study="1.2.3", series="1.2.3.9"),
            study="1.2.3",
            series="1.2.3.9",
        )
    ]


def test_rows_protected_when_landing_are_built_without_functions(
    project: Path, tmp_path: Path
) -> None:
    lake = tmp_path / "lake"
    LandingZone(lake, policy=load_policy(project)).land(events())
    assert_built(build(lake, project_dir=project))
    assert read(lake, "select study_instance_uid, patient_id from instance") == [
        (uid("1.2.3"), pseudonym("PID-1"))
    ]
    (compiled,) = (lake / "dbt" / "target" / "run").rglob("stg_landing__changefeed.sql")
    assert "protected_with" in compiled.read_text()
    assert "dicom_lake_protected" not in compiled.read_text()


def test_a_row_not_protected_when_landing_stops_the_build(project: Path, tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    LandingZone(lake, policy=load_policy(project)).land(events())
    LandingZone(lake).land([event(2, "Create", "1.2.3.2", metadata("1.2.3.2"))])
    result = build(lake, project_dir=project)
    assert not result.success
    assert "was not protected when landing" in str(result.messages)
