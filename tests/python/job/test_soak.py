"""Soak: the job runs again and again while the archive changes and the network misbehaves.

A writer thread uploads, deletes and bulk-updates against the local DICOM service at random
(seeded) while `dicom-lake run` runs repeatedly with random 429/503 answers, dropped connections
and answers slower than the job's timeout, and now and then a SIGKILL at a random moment, the
first inside the first publication (after `instance`, before `instance_history`). Runs may fail
mid-soak; that is expected. At the end the writer stops, the faults are cleared and one
clean run catches up: the Delta tables must then hold the service's instances, instance for
instance, with their current attributes, and equal a lake that never saw a fault.

DICOM_LAKE_SOAK_SECONDS sets how long the writer and the job run together (default 30).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
import requests
from support.dicom_factory import bulk_update, delete, make_instance, stow
from support.jobs import (
    READ_TIME_COLUMNS,
    assert_delta_matches_service,
    assert_nothing_duplicated,
    assert_same_tables,
    kill_when,
    run_clean,
    start_job,
)
from support.lake_checks import assert_delta_matches_marts, delta_rows

from extractor.lake import Lake
from extractor.server import DEFAULT_PARTITION, LocalDicomService

SOAK_SECONDS = float(os.environ.get("DICOM_LAKE_SOAK_SECONDS", "30"))
SEED = int(os.environ.get("DICOM_LAKE_SOAK_SEED", "20250501"))
ROOT = "1.2.826.0.1.3680043.8.498.7331"
JOB_OPTIONS = ("--page-size", "25", "--batch-size", "60", "--timeout", "1", "--retries", "4")
# Exit codes a run may end with mid-soak: ok, the source unreachable or failing after its
# retries, and 99 "nothing new". A build (6) or publication (7) failure, a crash (1) are bugs.
TOLERATED = {0, 3, 5, 99}
MAX_WRITES = 5000
# A soak runs the job for SOAK_SECONDS, and on a slow machine on until it has seen a run pass and
# a run killed, at least MIN_RUNS runs in all; never more than MAX_RUNS.
MIN_RUNS, MAX_RUNS = 3, 20


class Writer(threading.Thread):
    """Uploads, deletes and bulk updates at random, through the service's HTTP routes."""

    def __init__(self, service: LocalDicomService, seed: int) -> None:
        super().__init__(name="soak-writer", daemon=True)
        self.service = service
        self.random = random.Random(seed)
        self.stop = threading.Event()
        self.done: Counter[str] = Counter()
        self.errors: list[str] = []
        self.studies = 0
        self.renamed: dict[str, str] = {}  # study -> the patient name of its last bulk update

    def new_study(self) -> str:
        self.studies += 1
        return f"{ROOT}.{self.studies}"

    def upload(self) -> None:
        keys = self.service.store.instance_keys()
        if keys and self.random.random() < 0.6:  # into an existing study, often a new series
            _, study, series, _ = self.random.choice(keys)
            if self.random.random() < 0.5:
                series = f"{study}.{self.random.randrange(10**6)}"
        else:
            study = self.new_study()
            series = f"{study}.1"
        count = self.random.randint(1, 4)
        stow(
            self.service.url,
            [
                make_instance(
                    study,
                    series,
                    f"{series}.{self.random.randrange(10**9)}",
                    PatientName=self.renamed.get(study, "Soak^Patient"),
                    InstanceNumber=n + 1,
                    Modality=self.random.choice(["CT", "MR", "US"]),
                )
                for n in range(count)
            ],
        )

    def remove(self) -> None:
        keys = self.service.store.instance_keys()
        if not keys:
            return
        _, study, series, sop = self.random.choice(keys)
        level = self.random.random()
        if level < 0.6:
            delete(self.service.url, study, series, sop)
        elif level < 0.9:
            delete(self.service.url, study, series)
        else:
            delete(self.service.url, study)

    def update(self) -> None:
        keys = self.service.store.instance_keys()
        if not keys:
            return
        studies = sorted({key[1] for key in keys})
        chosen = self.random.sample(studies, min(len(studies), self.random.randint(1, 2)))
        name = f"Soak^Renamed{self.done['update'] + 1}"
        bulk_update(
            self.service.url,
            chosen,
            {
                "00100010": {"vr": "PN", "Value": [{"Alphabetic": name}]},
                "00081030": {"vr": "LO", "Value": [f"description {self.done['update'] + 1}"]},
            },
        )
        for study in chosen:
            self.renamed[study] = name

    def run(self) -> None:
        actions = [(self.upload, "upload"), (self.remove, "delete"), (self.update, "update")]
        while not self.stop.is_set() and sum(self.done.values()) < MAX_WRITES:
            action, name = self.random.choices(actions, weights=[5, 2, 2])[0]
            try:
                action()
                self.done[name] += 1
            except Exception as error:  # any failure is reported by the test
                self.errors.append(f"{name}: {error!r}")
            self.stop.wait(self.random.uniform(0.02, 0.15))


def kill_in_first_publication(url: str, lake: Path, logs: Path, attempts: int = 3) -> bool:
    """SIGKILL a first run between its `instance` and `instance_history` commits."""
    delta = Path(Lake(lake).default_delta_uri)
    first_commit = "_delta_log/00000000000000000000.json"
    for _ in range(attempts):
        shutil.rmtree(lake, ignore_errors=True)
        job = start_job(url, lake, *JOB_OPTIONS, logs=logs)
        if kill_when(
            job,
            lambda: (
                (delta / "instance" / first_commit).exists()
                and not (delta / "instance_history" / first_commit).exists()
            ),
        ):
            return not (delta / "instance_history" / first_commit).exists()
    return False


def service_metadata(url: str, study: str, series: str, sop: str) -> dict:
    response = requests.get(
        f"{url}/v2/studies/{study}/series/{series}/instances/{sop}/metadata", timeout=30
    )
    response.raise_for_status()
    body = response.json()
    return body[0] if isinstance(body, list) else body


@pytest.mark.timeout(SOAK_SECONDS + 400)
def test_soak_the_job_converges_on_the_archive(tmp_path: Path) -> None:
    lake, reference = tmp_path / "lake", tmp_path / "reference"
    pick = random.Random(SEED)
    outcomes: list[int] = []
    with LocalDicomService(host="127.0.0.1", port=0) as service:
        url, faults = service.url, service.faults
        writer = Writer(service, SEED)
        for _ in range(3):
            writer.upload()
        writer.start()
        try:
            # First, a kill inside the first publication: `instance` committed, instance_history
            # not yet (the case that once lost deletes for good).
            assert kill_in_first_publication(url, lake, tmp_path / "logs"), "the kill missed"
            outcomes.append(-signal.SIGKILL)
            deadline = time.monotonic() + SOAK_SECONDS

            def soaked() -> bool:
                seen = len(outcomes) >= MIN_RUNS and {0, -signal.SIGKILL} <= set(outcomes)
                return time.monotonic() >= deadline and seen

            run = 0
            while not soaked() and run < MAX_RUNS:
                run += 1
                faults.retry_after = 0
                faults.slow_seconds = 2  # beyond the job's timeout
                faults.set_rates(error_rate=0.12, drop_rate=0.05, slow_rate=0.03, seed=SEED + run)
                job = start_job(url, lake, *JOB_OPTIONS, logs=tmp_path / "logs")
                # Every third run is killed at a random moment (extract, build or publication).
                limit = pick.uniform(0.3, 3.0) if run % 3 == 0 else 240.0
                try:
                    outcomes.append(job.wait(timeout=limit))
                except subprocess.TimeoutExpired:
                    job.process.send_signal(signal.SIGKILL)
                    job.process.wait(timeout=30)
                    outcomes.append(-signal.SIGKILL)
                if outcomes[-1] != -signal.SIGKILL:
                    assert outcomes[-1] in TOLERATED, (outcomes, job.output())
        finally:
            writer.stop.set()
            writer.join(timeout=60)
        assert not writer.is_alive()
        faults.clear()

        # The soak did what it says: the archive changed in every way, runs passed and failed.
        assert writer.errors == []
        assert min(writer.done[action] for action in ("upload", "delete", "update")) >= 3, (
            writer.done
        )
        assert len(outcomes) >= 3 and 0 in outcomes and -signal.SIGKILL in outcomes, outcomes

        run_clean(url, lake, *JOB_OPTIONS)
        run_clean(url, reference)  # a lake that never saw a fault

        assert_delta_matches_service(service, lake)
        assert_delta_matches_marts(lake, Lake(lake).default_delta_uri)
        assert_nothing_duplicated(lake, service)
        assert_same_tables(lake, reference, READ_TIME_COLUMNS)

        # Attribute values, instance for instance: the metadata the service holds now.
        instances = delta_rows(Lake(lake).default_delta_table("instance"))
        assert instances, "the archive ended empty: nothing left to compare"
        renamed = [row for row in instances if row["study_instance_uid"] in writer.renamed]
        sample = pick.sample(instances, min(10, len(instances)))
        sample += pick.sample(renamed, min(10, len(renamed)))
        assert renamed, "no bulk-updated study survived: the attribute check would be empty"
        for row in sample:
            key = (row["study_instance_uid"], row["series_instance_uid"], row["sop_instance_uid"])
            held = service_metadata(url, *key)
            assert held == service.store.metadata(DEFAULT_PARTITION, *key)
            assert json.loads(row["metadata"]) == held, key
            assert row["patient_name"] == held["00100010"]["Value"][0]["Alphabetic"], key
            if key[0] in writer.renamed:
                assert row["patient_name"] == writer.renamed[key[0]], key
                description = held.get("00081030", {}).get("Value", [None])[0]
                assert row["study_description"] == description, key
