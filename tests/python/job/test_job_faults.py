"""The scheduled job under faults: nothing lost, nothing duplicated, clear errors.

`dicom-lake run` runs as an operator runs it (a subprocess) against the local DICOM service. It is
SIGKILLed during extract, during `dbt build` and between the Delta commits of a publication, or
it meets 429/503 bursts, answers slower than its timeout, dropped connections, truncated pages
and HTML pages served with 200. After the fault and a clean rerun, its Delta tables must equal
those of a lake that never saw a fault, row for row, and the service's own instances.

One archive serves the whole module, in two phases: `phase_one_lake` is a lake that ran once
while the archive held phase one; the archive then moves to phase two (bulk updates, deletes of
an instance, a series and a study, a re-created instance, new studies) and stays there. A test
starts either from an empty lake or from a copy of `phase_one_lake` (so its publication is a
MERGE), and is compared with the clean lake that started the same way.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from deltalake import DeltaTable
from support.dicom_factory import bulk_update, delete, make_instance, stow
from support.jobs import (
    READ_TIME_COLUMNS,
    Job,
    LogTail,
    assert_delta_matches_service,
    assert_nothing_duplicated,
    assert_same_tables,
    delta_versions,
    kill_when,
    landed_files,
    landed_max_sequence,
    run_clean,
    run_job,
    start_job,
    wait_until,
)

from extractor.delta import APP_ID, TABLES
from extractor.lake import Lake
from extractor.server import LocalDicomService

ROOT = "1.2.826.0.1.3680043.8.498.5150"
# Many small pages and files, so that a kill or a fault can land in the middle of an extract.
SMALL = ("--page-size", "10", "--batch-size", "20")
ATTEMPTS = 3  # fresh tries for a kill point that a job ran past before the kill landed


def study_uid(n: int) -> str:
    return f"{ROOT}.{n}"


def series_uid(study: int, series: int) -> str:
    return f"{ROOT}.{study}.{series}"


def sop_uid(study: int, series: int, number: int) -> str:
    return f"{ROOT}.{study}.{series}.{number}"


def upload_study(url: str, study: int, series_count: int = 2, per_series: int = 5) -> None:
    stow(
        url,
        [
            make_instance(
                study_uid(study),
                series_uid(study, series),
                sop_uid(study, series, number),
                Modality=("CT", "MR")[series % 2],
                PatientName=f"Patient^{study}",
                PatientID=f"P-{study}",
                SeriesNumber=series,
                InstanceNumber=number,
            )
            for series in range(1, series_count + 1)
            for number in range(1, per_series + 1)
        ],
    )


def name_change(name: str) -> dict[str, object]:
    return {"00100010": {"vr": "PN", "Value": [{"Alphabetic": name}]}}


def phase_one(url: str) -> None:
    for study in range(10):
        upload_study(url, study)
    bulk_update(url, [study_uid(0)], name_change("Renamed^Once"))
    delete(url, study_uid(1), series_uid(1, 1), sop_uid(1, 1, 1))


def phase_two(url: str) -> None:
    bulk_update(url, [study_uid(2), study_uid(3)], name_change("Renamed^Twice"))
    bulk_update(url, [study_uid(0)], {"00081030": {"vr": "LO", "Value": ["Updated study"]}})
    delete(url, study_uid(4), series_uid(4, 2))  # a series
    delete(url, study_uid(5))  # a whole study
    delete(url, study_uid(6), series_uid(6, 1), sop_uid(6, 1, 3))  # an instance, re-created:
    stow(url, [make_instance(study_uid(6), series_uid(6, 1), sop_uid(6, 1, 3), Modality="CT")])
    stow(url, [make_instance(study_uid(7), series_uid(7, 2), sop_uid(7, 2, 9), Modality="MR")])
    for study in (10, 11):
        upload_study(url, study, series_count=3)


@dataclass(frozen=True)
class Archive:
    service: LocalDicomService
    phase_one_lake: Path  # ran once on phase one; never written to by a test
    reference_fresh: Path  # one clean run on phase two, from an empty lake
    reference_incremental: Path  # a copy of phase_one_lake, then one clean run on phase two

    @property
    def url(self) -> str:
        return self.service.url


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Archive]:
    root = tmp_path_factory.mktemp("archive")
    with LocalDicomService(host="127.0.0.1", port=0) as service:
        phase_one(service.url)
        run_clean(service.url, root / "phase-one")
        phase_two(service.url)
        run_clean(service.url, root / "fresh")
        shutil.copytree(root / "phase-one", root / "incremental")
        run_clean(service.url, root / "incremental")
        yield Archive(service, root / "phase-one", root / "fresh", root / "incremental")


@pytest.fixture(autouse=True)
def no_faults(archive: Archive) -> Iterator[None]:
    def reset() -> None:
        archive.service.faults.clear()
        archive.service.faults.retry_after = 1
        archive.service.faults.slow_seconds = 5.0

    reset()
    yield
    reset()


def new_lake(archive: Archive, where: Path, start: str) -> Path:
    """An empty lake, or a copy of the phase-one lake (`start` is "fresh" or "incremental")."""
    if where.exists():
        shutil.rmtree(where)
    if start == "incremental":
        shutil.copytree(archive.phase_one_lake, where)
    return where


def reference_for(archive: Archive, start: str) -> Path:
    return archive.reference_fresh if start == "fresh" else archive.reference_incremental


def assert_converged(archive: Archive, lake: Path, start: str) -> None:
    """The lake equals the clean lake that started the same way, and the service's state."""
    assert_same_tables(lake, reference_for(archive, start))
    assert_delta_matches_service(archive.service, lake)
    assert_nothing_duplicated(lake, archive.service)


def latest_sequence(archive: Archive) -> int:
    latest = archive.service.store.latest(include_metadata=False)
    assert latest is not None
    return latest.sequence


# -- the references themselves -------------------------------------------------------------------


def test_the_clean_references_agree_with_the_service_and_each_other(archive: Archive) -> None:
    """The baseline the fault tests compare with: without faults, both paths give the same lake."""
    for reference in (archive.reference_fresh, archive.reference_incremental):
        assert_delta_matches_service(archive.service, reference)
        assert_nothing_duplicated(reference, archive.service)
    # The two read the phase-one events at different times: only read-time columns may differ.
    assert_same_tables(archive.reference_incremental, archive.reference_fresh, READ_TIME_COLUMNS)
    assert (archive.service.store.metadata("Microsoft.Default", *instance_of(2)) or {}).get(
        "00100010"
    ) == name_change("Renamed^Twice")["00100010"]


def instance_of(study: int) -> tuple[str, str, str]:
    return study_uid(study), series_uid(study, 1), sop_uid(study, 1, 2)


# -- SIGKILL ------------------------------------------------------------------------------------


def run_killed(
    archive: Archive,
    lake_path: Path,
    start: str,
    condition: Callable[[Path, dict[str, int], LogTail], bool],
    landed: Callable[[Path, dict[str, int]], bool],
    *options: str,
) -> tuple[Path, Job]:
    """Start the job, SIGKILL it when `condition` holds, and check with `landed` that the kill
    hit the point aimed at; a job that ran past it is tried again from a fresh lake."""
    for attempt in range(ATTEMPTS):
        lake = new_lake(archive, lake_path, start)
        before = delta_versions(lake)
        log = LogTail(Lake(lake).dbt_logs / "dbt.log")
        job = start_job(archive.url, lake, *options, logs=lake_path.parent / f"logs-{attempt}")
        killed = kill_when(job, lambda lake=lake, b=before, log=log: condition(lake, b, log))
        if killed and landed(lake, before):
            return lake, job
    pytest.fail(f"the kill never landed at the point aimed at in {ATTEMPTS} tries:\n{job.output()}")


def test_sigkill_during_extract(archive: Archive, tmp_path: Path) -> None:
    files = 3
    latest = latest_sequence(archive)

    def mid_extract(lake: Path, before: dict[str, int]) -> bool:
        # Some files landed, but not the whole feed, and nothing was built yet.
        return (
            len(landed_files(lake)) >= files
            and landed_max_sequence(lake) < latest
            and not Lake(lake).warehouse.exists()
        )

    lake, _ = run_killed(
        archive,
        tmp_path / "lake",
        "fresh",
        lambda lake, _before, _log: len(landed_files(lake)) >= files,
        mid_extract,
        *SMALL,
    )
    # A kill in the middle of writing a file leaves its temporary file behind: leave one too.
    first = landed_files(lake)[0]
    half = first.read_bytes()[: first.stat().st_size // 2]
    (Lake(lake).changefeed / f".{first.stem}0.parquet.tmp").write_bytes(half)

    run_clean(archive.url, lake, *SMALL)
    assert_converged(archive, lake, "fresh")


BUILD_POINTS = {
    # staging committed, no mart rebuilt yet
    "after staging": "OK created sql incremental model main.stg_landing__changefeed",
    # the instance mart rebuilt, series and study not yet
    "after the instance mart": "OK created sql incremental model main.instance ",
}


@pytest.mark.parametrize(
    ("point", "start"), [("after staging", "fresh"), ("after the instance mart", "incremental")]
)
def test_sigkill_during_dbt_build(archive: Archive, tmp_path: Path, point: str, start: str) -> None:
    latest = latest_sequence(archive)
    marker = BUILD_POINTS[point]

    def mid_build(lake: Path, before: dict[str, int]) -> bool:
        # The extract had finished, the publication had not begun.
        return landed_max_sequence(lake) == latest and delta_versions(lake) == before

    lake, _ = run_killed(
        archive, tmp_path / "lake", start, lambda _l, _b, log: log.shows(marker), mid_build
    )
    run_clean(archive.url, lake)
    assert_converged(archive, lake, start)


@pytest.mark.parametrize(
    ("after", "start"),
    [
        ("instance", "fresh"),  # first publication: the tables are being created
        ("instance", "incremental"),  # a MERGE publication, at each of its three points
        ("series", "incremental"),
        ("study", "incremental"),
    ],
)
def test_sigkill_between_delta_commits(
    archive: Archive, tmp_path: Path, after: str, start: str
) -> None:
    """Killed once `after` committed its new version and before the next table did."""
    done = TABLES[: TABLES.index(after) + 1]

    def committed(lake: Path, before: dict[str, int]) -> bool:
        return delta_versions(lake)[after] > before[after]

    def between(lake: Path, before: dict[str, int]) -> bool:
        now = delta_versions(lake)
        return all((now[t] > before[t]) == (t in done) for t in TABLES)

    lake, _ = run_killed(
        archive, tmp_path / "lake", start, lambda lake, b, _log: committed(lake, b), between
    )
    run_clean(archive.url, lake)
    assert_converged(archive, lake, start)
    # Every table caught up: all four carry the same, newest watermark.
    watermarks = {
        DeltaTable(Lake(lake).default_delta_table(t)).transaction_version(APP_ID) for t in TABLES
    }
    assert watermarks == {latest_sequence(archive)}


# -- network faults ----------------------------------------------------------------------------

# Every kind of passing fault, served in the middle of an extract (after its first file landed):
# each is retried (urllib3 for statuses, drops and timeouts; tenacity for 200s that are no page).
# A page is read at most 4 times when 200s carry no page, so at most two such answers in a row.
PASSING = [429, 503, "drop", "slow", "truncate", 503, "html200", "drop", 429]


def test_passing_faults_mid_extract_are_retried_and_the_run_succeeds(
    archive: Archive, tmp_path: Path
) -> None:
    faults = archive.service.faults
    faults.retry_after = 1
    faults.slow_seconds = 3  # beyond the job's 1 s timeout
    lake = tmp_path / "lake"
    job = start_job(archive.url, lake, *SMALL, "--timeout", "1", logs=tmp_path / "logs")
    try:
        started = wait_until(lambda: len(landed_files(lake)) >= 1, job)
        faults.queue(*PASSING)
        assert started, "the extract ended before the faults could be queued"
        assert job.wait() == 0, job.output()
    finally:
        if job.process.poll() is None:
            job.process.kill()
    assert faults.queued == []  # every fault was served to the job
    assert_converged(archive, lake, "fresh")


LASTING = {
    # fault, exit code, what stderr must say
    "503 that lasts": (503, 5, "503"),
    "connections dropped for good": ("drop", 3, "no answer from"),
    "HTML pages that last": ("html200", 5, "not JSON"),
}


@pytest.mark.parametrize("fault", list(LASTING))
def test_a_lasting_fault_fails_clearly_then_a_clean_rerun_converges(
    archive: Archive, tmp_path: Path, fault: str
) -> None:
    """Mid-extract the service turns bad for good: the job stops with its exit code and a clear
    message, keeps what it landed, and the next run (service healthy again) catches up."""
    kind, code, message = LASTING[fault]
    faults = archive.service.faults
    faults.retry_after = 0
    faults.slow_seconds = 0
    # "slow" with slow_seconds = 0 answers normally: the fault starts at the fifth page.
    faults.queue(*["slow"] * 4, *[kind] * 60)
    lake = tmp_path / "lake"
    result = run_job(archive.url, lake, *SMALL, "--retries", "2")
    assert result.returncode == code, (result.returncode, result.stderr[-5000:])
    assert message in result.stderr and "Traceback" not in result.stderr
    assert len(landed_files(lake)) >= 1  # the batches landed before the fault stay landed
    assert landed_max_sequence(lake) < latest_sequence(archive)
    assert not Path(Lake(lake).default_delta_uri).exists()  # nothing half-built was published

    faults.clear()
    run_clean(archive.url, lake, *SMALL)
    assert_converged(archive, lake, "fresh")


def test_a_truncated_landed_file_is_quarantined_and_its_entries_read_again(
    archive: Archive, tmp_path: Path
) -> None:
    lake = new_lake(archive, tmp_path / "lake", "incremental")
    run_clean(archive.url, lake)  # phase two lands in a second file, after phase one's
    files = landed_files(lake)
    assert len(files) >= 2
    damaged = files[0]  # the oldest: a hole the watermark alone would never go back to
    damaged.write_bytes(damaged.read_bytes()[: damaged.stat().st_size // 2])

    result = run_job(archive.url, lake)

    assert result.returncode == 0, (result.returncode, result.stderr[-5000:])
    assert "Traceback" not in result.stderr
    assert f"landed file {damaged.name} cannot be read" in result.stderr
    assert (Lake(lake).landing_quarantine / damaged.name).exists() and not damaged.exists()
    assert_delta_matches_service(archive.service, lake)
    assert_nothing_duplicated(lake, archive.service)
    # Landed again, the quarantined entries no longer hold the watermark back.
    assert run_job(archive.url, lake).returncode == 99
