"""The scheduled job's contract: one run at a time, exit codes, logs, landing-zone failures."""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from deltalake import DeltaTable
from support import REPOSITORY
from support.dicom_factory import make_instance, stow
from support.lake_checks import copy_project

from extractor.delta import TABLES
from extractor.job.lock import run_lock
from extractor.lake import Lake

EXIT_NOTHING_NEW, EXIT_BUILD, EXIT_PUBLISH, EXIT_LANDING, EXIT_BUSY = 99, 6, 7, 8, 9
EXIT_CONFIGURATION = 11


def job(*args: str, preexec_fn=None, wrapper: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*wrapper, sys.executable, "-m", "extractor", *args],
        capture_output=True,
        text=True,
        timeout=240,
        env={**os.environ, "NO_COLOR": "1"},
        preexec_fn=preexec_fn,
    )


def run(url: str, lake: Path, *extra: str, **kwargs) -> subprocess.CompletedProcess:
    return job("run", "--url", url, "--lake", str(lake), "--lag", "0", *extra, **kwargs)


def test_a_second_run_exits_at_once_while_one_holds_the_lake(dicom_service, lake_dir) -> None:
    with run_lock(Lake(lake_dir), "abc123", "run"):
        started = time.monotonic()
        busy = run(dicom_service.url, lake_dir)
    assert busy.returncode == EXIT_BUSY
    assert "another dicom-lake run is using" in busy.stderr and "run abc123" in busy.stderr
    assert time.monotonic() - started < 30
    assert dicom_service.faults.served == 0  # it did not touch the service


def test_the_lock_of_a_killed_run_is_taken_over(dicom_service, lake_dir) -> None:
    stow(dicom_service.url, [make_instance() for _ in range(3)])
    dicom_service.faults.slow_seconds = 30
    dicom_service.faults.queue("slow")
    command = ["run", "--url", dicom_service.url, "--lake", str(lake_dir), "--lag", "0"]
    victim = subprocess.Popen(
        [sys.executable, "-m", "extractor", *command],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while dicom_service.faults.served == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert victim.poll() is None, "the run ended before it could be killed"
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    assert Lake(lake_dir).lock.read_text()  # left behind, naming the dead run
    dicom_service.faults.clear()

    rerun = run(dicom_service.url, lake_dir)
    assert rerun.returncode == 0, rerun.stderr
    assert "taking over the lock of a run that ended without releasing it" in rerun.stderr
    assert Lake(lake_dir).lock.read_text() == ""  # released cleanly this time


def test_a_lock_file_that_is_a_symbolic_link_is_refused_and_its_target_kept(
    dicom_service, lake_dir, tmp_path: Path
) -> None:
    precious = tmp_path / "precious.txt"
    precious.write_text("an operator's file")
    lake_dir.mkdir()
    Lake(lake_dir).lock.symlink_to(precious)

    refused = run(dicom_service.url, lake_dir)

    assert refused.returncode == EXIT_LANDING, refused.stderr
    assert "is a symbolic link" in refused.stderr and "Traceback" not in refused.stderr
    assert precious.read_text() == "an operator's file"
    assert dicom_service.faults.served == 0


def test_nothing_new_has_its_own_exit_code(dicom_service, lake_dir) -> None:
    stow(dicom_service.url, [make_instance()])
    assert run(dicom_service.url, lake_dir).returncode == 0
    versions = {t: DeltaTable(Lake(lake_dir).default_delta_table(t)).version() for t in TABLES}
    again = run(dicom_service.url, lake_dir)
    assert again.returncode == EXIT_NOTHING_NEW, again.stderr
    assert "run finished: nothing new" in again.stderr
    # neither dbt nor the publication ran again
    assert "dbt build       up to date" in again.stdout
    assert "delta           up to date" in again.stdout
    assert "dbt_up_to_date=true" in again.stderr and "delta_up_to_date=true" in again.stderr
    assert {t: DeltaTable(Lake(lake_dir).default_delta_table(t)).version() for t in TABLES} == (
        versions
    )


def test_json_logs_carry_the_run_id_counts_durations_and_watermarks(dicom_service, lake_dir):
    stow(dicom_service.url, [make_instance() for _ in range(2)])
    result = run(dicom_service.url, lake_dir, "--log-format", "json")
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    assert records and len(records) == len(result.stderr.strip().splitlines())
    assert len({record["run_id"] for record in records}) == 1
    closing = records[-1]
    assert closing["message"] == "run finished: ok" and closing["outcome"] == "ok"
    assert closing["landed"] == 2 and closing["landed_by_action"] == {"Create": 2}
    assert closing["watermark_before"] is None
    assert closing["watermark_after"]["sequence"] == 2
    assert set(closing["durations_s"]) == {"extract", "build", "publish", "total"}
    assert closing["published"] == {
        "instance": 0, "series": 0, "study": 0, "instance_history": 0,
    }  # fmt: skip


def test_plain_logs_name_the_run(dicom_service, lake_dir) -> None:
    stow(dicom_service.url, [make_instance()])
    result = job("extract", "--url", dicom_service.url, "--lake", str(lake_dir), "--lag", "0")
    closing = result.stderr.strip().splitlines()[-1]
    assert "run=" in closing and "extract finished: ok" in closing and "landed=1" in closing
    assert (
        'watermark_after={"sequence":1,' in closing and 'landed_by_action={"Create":1}' in closing
    )


def test_a_failing_dbt_test_is_named_in_the_output(dicom_service, lake_dir, tmp_path) -> None:
    stow(dicom_service.url, [make_instance()])
    project = copy_project(tmp_path)
    (project / "tests" / "assert_nothing_is_ever_right.sql").write_text(
        "select * from {{ ref('instance') }}\n"
    )
    result = run(dicom_service.url, lake_dir, "--dbt-project", str(project))
    assert result.returncode == EXIT_BUILD
    assert "dbt build failed" in result.stderr
    assert "test.dicom_lake.assert_nothing_is_ever_right" in result.stderr
    assert not Path(
        Lake(lake_dir).default_delta_uri
    ).exists()  # nothing published from a failed build


def test_a_seed_row_that_cannot_be_projected_is_a_configuration_error(
    dicom_service, lake_dir, tmp_path
) -> None:
    stow(dicom_service.url, [make_instance()])
    project = copy_project(tmp_path)
    with (project / "seeds" / "dicom_tags.csv").open("a") as seed:
        seed.write("00081110,ReferencedStudySequence,study,referenced_study_sequence,,,,,\n")
    result = run(dicom_service.url, lake_dir, "--dbt-project", str(project))
    assert result.returncode == EXIT_CONFIGURATION, result.stderr
    assert "seeds/dicom_tags.csv line " in result.stderr
    assert "column tag: 00081110 (ReferencedStudySequence) has VR SQ, a sequence" in result.stderr
    assert not Lake(lake_dir).warehouse.exists()  # stopped before dbt
    assert list(Lake(lake_dir).changefeed.glob("*.parquet"))  # what was extracted stays landed


def test_a_publication_failure_has_its_own_exit_code(dicom_service, lake_dir, tmp_path) -> None:
    stow(dicom_service.url, [make_instance()])
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    result = run(dicom_service.url, lake_dir, "--delta-uri", str(blocker / "delta"))
    assert result.returncode == EXIT_PUBLISH
    assert "Delta publication failed" in result.stderr


def _limit_file_size() -> None:
    # A full disk, as a write sees it: the kernel refuses bytes past the limit.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))


def test_a_full_disk_stops_extract_clearly_without_partial_files(dicom_service, lake_dir):
    # Random text, so that compression cannot shrink it below the limit.
    comments = [os.urandom(4000).hex() for _ in range(40)]
    stow(dicom_service.url, [make_instance(PatientComments=text) for text in comments])
    result = job(
        "extract", "--url", dicom_service.url, "--lake", str(lake_dir), "--lag", "0",
        preexec_fn=_limit_file_size,
    )  # fmt: skip
    assert result.returncode == EXIT_LANDING, result.stderr
    assert "cannot write the landing zone" in result.stderr and "Traceback" not in result.stderr
    assert list(Lake(lake_dir).changefeed.iterdir()) == []  # no partial or temporary file

    recovered = job("extract", "--url", dicom_service.url, "--lake", str(lake_dir), "--lag", "0")
    assert recovered.returncode == 0 and "landed          40 entries" in recovered.stdout


def test_a_landing_zone_without_write_permission_stops_clearly(dicom_service, lake_dir) -> None:
    stow(dicom_service.url, [make_instance()])
    landing = Lake(lake_dir).changefeed
    landing.mkdir(parents=True)
    landing.chmod(0o555)
    # Root ignores file modes: drop that power, as an ordinary service account has none.
    no_override = ("setpriv", "--inh-caps=-dac_override", "--bounding-set=-dac_override")
    try:
        result = job(
            "extract", "--url", dicom_service.url, "--lake", str(lake_dir), "--lag", "0",
            wrapper=no_override if os.geteuid() == 0 else (),
        )  # fmt: skip
    finally:
        landing.chmod(0o755)
    assert result.returncode == EXIT_LANDING, result.stderr
    assert "Permission denied" in result.stderr
    assert list(landing.iterdir()) == []


@pytest.mark.parametrize("code", [3, 4, 5])
def test_exit_codes_are_documented(code: int) -> None:
    readme = (REPOSITORY / "README.md").read_text()
    for documented in (0, 1, 2, code, EXIT_BUILD, EXIT_PUBLISH, EXIT_LANDING, EXIT_BUSY, 99):
        assert f"| {documented} |" in readme


def test_a_lake_path_with_quotes_globs_and_braces_runs_end_to_end(
    dicom_service, tmp_path: Path
) -> None:
    stow(dicom_service.url, [make_instance() for _ in range(3)])
    odd = tmp_path / "it's * {a,b} 100%"
    # A decoy the glob `*` would also match if the lake's own path were not escaped.
    decoy = tmp_path / "it's x {a,b} 100%" / "lake" / "landing" / "changefeed"
    decoy.mkdir(parents=True)
    (decoy / "changefeed-decoy.parquet").write_bytes(b"not parquet")

    result = run(dicom_service.url, odd / "lake")

    assert result.returncode == 0, result.stderr[-3000:]
    instance = DeltaTable(Lake(odd / "lake").default_delta_table("instance"))
    assert instance.to_pyarrow_table().num_rows == 3


@pytest.mark.parametrize(
    ("folder", "named"),
    [
        ("what?", "dbt-duckdb reads as the start of a URI"),
        ("no#1", "dbt-duckdb reads as the start of a URI"),
        ("scan[1]", "delta-rs cannot open"),  # its Delta tables inside it, by default
    ],
)
def test_a_lake_path_the_tools_below_cannot_use_is_refused_up_front(
    dicom_service, tmp_path: Path, folder: str, named: str
) -> None:
    refused = run(dicom_service.url, tmp_path / folder / "lake")
    assert refused.returncode == 2, refused.stderr[-3000:]
    assert named in refused.stderr and "Traceback" not in refused.stderr
    assert dicom_service.faults.served == 0


def test_a_lake_path_with_brackets_works_with_the_delta_tables_elsewhere(
    dicom_service, tmp_path: Path
) -> None:
    stow(dicom_service.url, [make_instance()])
    lake = tmp_path / "scan[1]" / "lake"
    delta = tmp_path / "delta"
    result = run(dicom_service.url, lake, "--delta-uri", str(delta))
    assert result.returncode == 0, result.stderr[-3000:]
    assert DeltaTable(str(delta / "instance")).to_pyarrow_table().num_rows == 1
