"""A build with nothing new is not run again; anything a build reads that changed runs it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pytest
from support.feed_events import assert_built, event, metadata, read
from support.lake_checks import copy_project

from extractor.build import build
from extractor.lake import Lake
from extractor.landing import LandingZone


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A lake built once; each test works on a copy of it."""
    lake = tmp_path_factory.mktemp("freshness") / "lake"
    LandingZone(lake).land([event(1, "Create", "a", metadata("a"))])
    result = build(lake)
    assert_built(result)
    assert not result.up_to_date
    return lake


@pytest.fixture
def lake(built: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "lake"
    shutil.copytree(built, copy)
    return copy


def _kinds_run(lake: Path) -> set[str]:
    """The kinds of node the last dbt run ran (model, seed, test, unit_test...)."""
    results = json.loads((Lake(lake).dbt_target / "run_results.json").read_text())["results"]
    return {result["unique_id"].split(".")[0] for result in results}


def _dbt_ran(lake: Path) -> float:
    """When dbt last wrote its run results."""
    return (Lake(lake).dbt_target / "run_results.json").stat().st_mtime_ns


def test_nothing_new_runs_no_dbt(lake: Path) -> None:
    before = _dbt_ran(lake)
    first = build(lake)
    assert_built(first)
    assert not first.up_to_date  # a lake in another place builds once
    ran = _dbt_ran(lake)
    assert ran > before
    warehouse = Lake(lake).warehouse.stat().st_mtime_ns
    again = build(lake)
    assert again.success and again.up_to_date
    assert again.warehouse == Lake(lake).warehouse
    assert _dbt_ran(lake) == ran
    assert Lake(lake).warehouse.stat().st_mtime_ns == warehouse
    # reading the warehouse (the publication does) keeps it up to date
    read(lake, "select count(*) from instance")
    assert build(lake).up_to_date


def test_a_new_landed_file_is_built(lake: Path) -> None:
    assert_built(build(lake))
    LandingZone(lake).land([event(2, "Create", "b", metadata("b"))])
    result = build(lake)
    assert_built(result)
    assert not result.up_to_date
    assert read(lake, "select sop_instance_uid from instance order by 1") == [("a",), ("b",)]
    assert build(lake).up_to_date


def test_a_changed_model_is_built(lake: Path, tmp_path: Path) -> None:
    project = copy_project(tmp_path)
    assert_built(build(lake, project_dir=project))
    assert build(lake, project_dir=project).up_to_date
    model = project / "models" / "marts" / "instance.sql"
    model.write_text(model.read_text() + "\n-- an analyst's edit\n")
    assert not build(lake, project_dir=project).up_to_date
    with (project / "seeds" / "dicom_tags.csv").open("a") as seed:
        seed.write("00181020,SoftwareVersions,series,software_versions,,,,,\n")
    assert not build(lake, project_dir=project).up_to_date
    assert "software_versions" in {
        name for (name,) in read(lake, "select column_name from information_schema.columns")
    }


def test_a_changed_or_missing_warehouse_is_built(lake: Path) -> None:
    assert_built(build(lake))
    with duckdb.connect(str(Lake(lake).warehouse)) as connection:
        connection.execute("delete from instance")
    result = build(lake)
    assert not result.up_to_date
    # the incremental models do not see the deleted rows as changes: a full refresh restores
    # them, and a changed warehouse is at least rebuilt, never taken as up to date
    assert_built(build(lake, full_refresh=True))
    assert read(lake, "select count(*) from instance") == [(1,)]
    Lake(lake).warehouse.unlink()
    result = build(lake)
    assert_built(result)
    assert not result.up_to_date
    assert read(lake, "select count(*) from instance") == [(1,)]


def test_a_failed_build_leaves_no_stamp(lake: Path, tmp_path: Path) -> None:
    assert_built(build(lake))
    project = copy_project(tmp_path)
    broken = project / "models" / "marts" / "study.sql"
    broken.write_text("select no_such_column from {{ ref('series') }}")
    assert not build(lake, project_dir=project).success
    assert not Lake(lake).build_stamp.exists()
    # the bundled project again: its last success is forgotten, so it runs
    assert not build(lake).up_to_date


def test_force_and_full_refresh_always_run(lake: Path) -> None:
    assert_built(build(lake))
    ran = _dbt_ran(lake)
    forced = build(lake, force=True)
    assert_built(forced)
    assert not forced.up_to_date and _dbt_ran(lake) > ran
    assert not build(lake, full_refresh=True).up_to_date
    assert build(lake).up_to_date


def test_new_files_alone_leave_out_the_checks_of_the_project(lake: Path, tmp_path: Path) -> None:
    project = copy_project(tmp_path)
    assert_built(build(lake, project_dir=project))
    assert {"seed", "unit_test", "model", "test"} <= _kinds_run(lake)
    LandingZone(lake).land([event(2, "Create", "b", metadata("b"))])
    assert_built(build(lake, project_dir=project))
    # the seeds are loaded and the unit tests passed on this project: models and data tests only
    kinds = _kinds_run(lake)
    assert {"model", "test"} <= kinds and not {"seed", "unit_test"} & kinds
    assert read(lake, "select sop_instance_uid from instance order by 1") == [("a",), ("b",)]
    # a changed project runs them again
    with (project / "seeds" / "dicom_tags.csv").open("a") as seed:
        seed.write("00181020,SoftwareVersions,series,software_versions,,,,,\n")
    LandingZone(lake).land([event(3, "Create", "c", metadata("c"))])
    assert_built(build(lake, project_dir=project))
    assert {"seed", "unit_test"} <= _kinds_run(lake)
    # so does a warehouse changed since the last build (its seeds may be gone)
    with duckdb.connect(str(Lake(lake).warehouse)) as connection:
        connection.execute("drop table dicom_dictionary")
    LandingZone(lake).land([event(4, "Create", "d", metadata("d"))])
    assert_built(build(lake, project_dir=project))
    assert {"seed", "unit_test"} <= _kinds_run(lake)
    assert read(lake, "select count(*) from dicom_dictionary")[0][0] > 0
    # and a forced build
    assert_built(build(lake, project_dir=project, force=True))
    assert {"seed", "unit_test"} <= _kinds_run(lake)
