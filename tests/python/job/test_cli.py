"""The `dicom-lake` command, run as a user runs it: a subprocess against the local service."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
from deltalake import DeltaTable
from support.dicom_factory import free_port, make_instance, stow
from support.feed_server import ScriptedFeed, entry_text, serve_feed

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


def test_an_analyst_session_on_the_warehouse_gets_its_own_exit_code(
    dicom_service, lake_dir
) -> None:
    stow(dicom_service.url, [make_instance()])
    lake = ("--lake", str(lake_dir))
    assert dicom_lake("run", "--url", dicom_service.url, "--lag", "0", *lake).returncode == 0

    with duckdb.connect(str(Lake(lake_dir).warehouse), read_only=True):  # an analyst's query
        # nothing new: the build is up to date and needs not the warehouse
        idle = dicom_lake("build", *lake, "--no-publish", "--warehouse-wait", "0")
        assert idle.returncode == 0 and "up to date" in idle.stdout, idle.stderr
        held = dicom_lake(
            "build", *lake, "--no-publish", "--full-refresh", "--warehouse-wait", "1.5"
        )
    assert held.returncode == 10, held.stderr
    assert f"(PID {os.getpid()})" in held.stderr and "--warehouse-wait" in held.stderr
    assert "Traceback" not in held.stderr

    rebuilt = dicom_lake("build", *lake, "--no-publish", "--full-refresh", "--warehouse-wait", "0")
    assert rebuilt.returncode == 0, rebuilt.stderr


def json_lines(text: str) -> list[dict]:
    """Every line of `text` as JSON: fails on the first line that is not."""
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_with_json_logs_every_line_is_json_and_the_closing_record_carries_the_error(
    lake_dir,
) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    failed = dicom_lake(
        "run", "--url", url, "--lake", str(lake_dir), "--retries", "0", "--log-format", "json"
    )
    assert failed.returncode == 3
    records = json_lines(failed.stderr)
    closing = next(r for r in records if r["message"] == "run finished: source_unreachable")
    assert closing["exit_code"] == 3 and "no answer from" in closing["error"]
    assert records[-1]["level"] == "error" and records[-1]["exit_code"] == 3
    assert {r["run_id"] for r in records} == {closing["run_id"]} != {"-"}

    bad_flag = dicom_lake("run", "--bogus", env={"DICOM_LAKE_LOG_FORMAT": "json"})
    assert bad_flag.returncode == 2
    (record,) = json_lines(bad_flag.stderr)
    assert record["level"] == "error" and "--bogus" in record["message"]


def test_settings_out_of_range_exit_with_the_usage_code(lake_dir) -> None:
    for option in (("--lag", "999999d"), ("--overlap", "1e400"), ("--timeout", "1e400")):
        result = dicom_lake(
            "extract", "--url", "http://127.0.0.1:1", "--lake", str(lake_dir), *option
        )
        assert result.returncode == 2, (option, result.stderr[-2000:])
        assert "Traceback" not in result.stderr


def test_entries_outside_the_calendar_or_int64_are_malformed_pages_not_tracebacks(
    lake_dir,
) -> None:
    for entry in (
        entry_text(2**63, "2026-01-01T00:00:01Z"),
        entry_text(1, "0001-01-01T00:00:00+01:00"),  # 31 December of year 0, in UTC
        entry_text(1, "9999-12-31T23:59:59-01:00"),
    ):
        with serve_feed(ScriptedFeed([entry], honour_window=False)) as url:
            result = dicom_lake("extract", "--url", url, "--lake", str(lake_dir), "--lag", "0")
        assert result.returncode == 5, result.stderr[-2000:]
        assert "Traceback" not in result.stderr and "is outside" in result.stderr


def test_a_watermark_at_the_first_instant_of_the_calendar_is_read_from(lake_dir) -> None:
    feed = ScriptedFeed([entry_text(1, "0001-01-01T00:00:00Z")])
    with serve_feed(feed) as url:
        command = ("extract", "--url", url, "--lake", str(lake_dir), "--lag", "0")
        assert dicom_lake(*command).returncode == 0
        feed.entries.append(entry_text(2, "2026-01-01T00:00:00Z"))
        again = dicom_lake(*command)
    assert again.returncode == 0, again.stderr[-2000:]
    assert feed.requests[-1]["startTime"].startswith("0001-01-01T00:00:00")


def test_serve_refuses_a_non_loopback_address_unless_told() -> None:
    for host in ("0.0.0.0", "::", "192.0.2.1"):
        refused = dicom_lake("serve", "--host", host, "--port", "0", "--no-samples")
        assert refused.returncode == 2, refused.stderr[-2000:]
        assert "not a loopback address" in refused.stderr and "--allow-remote" in refused.stderr
    taken = dicom_lake("serve", "--host", "192.0.2.1", "--port", "0", "--allow-remote")
    assert taken.returncode == 2 and "cannot listen on 192.0.2.1" in taken.stderr
    assert "Traceback" not in taken.stderr
