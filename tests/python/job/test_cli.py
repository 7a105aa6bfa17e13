"""The `dicom-lake` command, run as a user runs it: a subprocess against the local service."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
from deltalake import DeltaTable
from support.dicom_factory import free_port, make_instance, stow

from extractor.lake import Lake


def dicom_lake(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "extractor", *args],
        capture_output=True,
        text=True,
        timeout=240,
        env={**os.environ, "NO_COLOR": "1", **(env or {})},
    )


def test_extract_from_the_environment_then_nothing_new(dicom_service, lake_dir) -> None:
    stow(dicom_service.url, [make_instance() for _ in range(3)])
    env = {"DICOM_SERVICE_URL": dicom_service.url, "DICOM_LAKE_DIR": str(lake_dir)}
    first = dicom_lake("extract", "--lag", "0", env=env)
    assert first.returncode == 0, first.stderr
    assert "landed          3 entries (Create 3) in 1 file(s)" in first.stdout
    assert "watermark       none -> sequence 3" in first.stdout
    assert len(list(Lake(lake_dir).changefeed.glob("*.parquet"))) == 1

    second = dicom_lake("extract", "--lag", "0", env=env)
    assert second.returncode == 99, second.stderr  # nothing new
    assert "nothing new: no file written" in second.stdout
    assert "sequence 3 at" in second.stdout.split("watermark")[1]


def test_bad_settings_are_refused_before_anything_runs(lake_dir) -> None:
    missing = dicom_lake("extract", "--lake", str(lake_dir), env={"DICOM_SERVICE_URL": ""})
    assert missing.returncode == 2 and "no service URL" in missing.stderr
    ftp = dicom_lake("extract", "--url", "ftp://example.invalid", "--lake", str(lake_dir))
    assert ftp.returncode == 2 and "https://" in ftp.stderr
    lag = dicom_lake("extract", "--url", "http://127.0.0.1:1", "--lag", "soon")
    assert lag.returncode == 2 and "not a duration" in lag.stderr
    assert not lake_dir.exists()


def test_an_unreachable_service_exits_with_its_own_code(lake_dir) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = dicom_lake("extract", "--url", url, "--lake", str(lake_dir), "--retries", "1")
    assert result.returncode == 3
    assert "no answer from" in result.stderr and "Traceback" not in result.stderr


def test_a_missing_role_exits_with_the_auth_code(dicom_service, lake_dir) -> None:
    dicom_service.faults.queue(403)
    result = dicom_lake("extract", "--url", dicom_service.url, "--lake", str(lake_dir))
    assert result.returncode == 4 and "DICOM Data Reader" in result.stderr


def test_the_demo_builds_tables_from_the_sample_data(tmp_path: Path) -> None:
    lake = tmp_path / "demo"
    result = dicom_lake("demo", "--lake", str(lake))
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Create" in result.stdout and "Delete 1" in result.stdout and "Update" in result.stdout
    assert Lake(lake).warehouse.exists()
    # A second demo starts again from a fresh lake of its own.
    again = dicom_lake("demo", "--lake", str(lake))
    assert again.returncode == 0, again.stderr[-3000:]
    assert "watermark       none -> " in again.stdout


def test_the_demo_never_clears_a_lake_it_did_not_make(tmp_path: Path) -> None:
    (tmp_path / "precious.parquet").write_text("keep me")
    result = dicom_lake("demo", "--lake", str(tmp_path))
    assert result.returncode == 2 and "did not write" in result.stderr
    assert (tmp_path / "precious.parquet").read_text() == "keep me"


def test_full_refresh_rebuilds_what_an_incremental_build_keeps(dicom_service, lake_dir) -> None:
    stow(dicom_service.url, [make_instance() for _ in range(2)])
    env = {"DICOM_SERVICE_URL": dicom_service.url, "DICOM_LAKE_DIR": str(lake_dir)}
    assert dicom_lake("run", "--lag", "0", env=env).returncode == 0
    warehouse = str(Lake(lake_dir).warehouse)
    with duckdb.connect(warehouse) as connection:  # as if a macro had changed since
        connection.execute("update instance set file_path = 'stale'")

    def file_paths() -> set[str]:
        with duckdb.connect(warehouse, read_only=True) as connection:
            rows = connection.execute("select file_path from instance").fetchall()
        return {path for (path,) in rows}

    assert dicom_lake("build", env=env).returncode == 0
    assert file_paths() == {"stale"}  # nothing new landed: the rows are kept
    refreshed = dicom_lake("build", "--full-refresh", env=env)
    assert refreshed.returncode == 0, refreshed.stderr
    assert "stale" not in file_paths()
    published = DeltaTable(Lake(lake_dir).default_delta_table("instance")).to_pyarrow_table()
    assert "stale" not in published.column("file_path").to_pylist()
