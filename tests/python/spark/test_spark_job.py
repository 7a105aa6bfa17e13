"""`dicom-lake run --engine spark`: the scheduled job on Spark, against the local DICOM service.

The marts are the Delta tables Spark writes at <lake>/delta, with nothing published after the
build; the lock, the logs and the exit codes are those of the DuckDB engine.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from support.dicom_factory import make_instance, stow
from support.jobs import assert_delta_matches_service
from support.spark import needs_java_and_maven

from extractor.lake import Lake

pytestmark = needs_java_and_maven

EXIT_USAGE, EXIT_BUILD = 2, 6


def run(url: str, lake: Path, *extra: str, **environment: str) -> subprocess.CompletedProcess:
    command = ["run", "--url", url, "--lake", str(lake), "--lag", "0", "--engine", "spark"]
    return subprocess.run(
        [sys.executable, "-m", "extractor", *command, *extra],
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, "NO_COLOR": "1", **environment},
    )


@pytest.mark.timeout(1000)
def test_the_job_on_spark_writes_the_marts_as_delta_and_keeps_the_job_contract(
    dicom_service, lake_dir
) -> None:
    stow(dicom_service.url, [make_instance(study="1.2.3", sop=f"1.2.3.{n}") for n in (1, 2, 3)])
    partition, study, series, sop = dicom_service.store.instance_keys()[0]
    dicom_service.store.delete(partition, study, series, sop)
    result = run(dicom_service.url, lake_dir, "--log-format", "json")
    assert result.returncode == 0, result.stderr[-5000:]
    records = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    closing = records[-1]
    assert closing["message"] == "run finished: ok" and closing["outcome"] == "ok"
    assert closing["landed_by_action"] == {"Create": 3, "Delete": 1}
    assert set(closing["durations_s"]) == {"extract", "build", "total"}  # nothing to publish
    assert "published" not in closing and closing["dbt_failed"] == []
    # Spark's own Delta tables, where the DuckDB engine publishes: the service's two instances
    assert_delta_matches_service(dicom_service, lake_dir)
    assert (Lake(lake_dir).spark_table("stg_landing__changefeed") / "_delta_log").is_dir()
    assert not Lake(lake_dir).warehouse.exists()  # DuckDB took no part
    assert "written by Spark in" in result.stdout


def test_missing_delta_jars_stop_the_build_saying_how_to_fetch_them(
    dicom_service, lake_dir, tmp_path
) -> None:
    stow(dicom_service.url, [make_instance()])
    empty = tmp_path / "no-jars"
    empty.mkdir()
    result = run(dicom_service.url, lake_dir, DICOM_LAKE_SPARK_JARS_DIR=str(empty))
    assert result.returncode == EXIT_BUILD, result.stderr[-3000:]
    assert "no Delta Lake jar in the jar cache" in result.stderr
    assert "make spark-jars" in result.stderr


@pytest.mark.parametrize(
    "option",
    [
        ["--adf-tables"],
        ["--delta-profile", "fabric"],
        ["--delta-uri", "/elsewhere"],
        ["--partition-delta-by-partition-name"],
    ],
)
def test_publication_options_are_refused_with_the_spark_engine(
    dicom_service, lake_dir, option
) -> None:
    result = run(dicom_service.url, lake_dir, *option)
    assert result.returncode == EXIT_USAGE, result.stderr
    assert "not with --engine spark" in result.stderr
    assert not Path(lake_dir).exists()  # refused before anything ran
