"""What Orthanc delete detection (extractor/reconcile.py) costs on a large archive.

Two measurements:

1. The reconciliation itself on `--instances` landed instances (default 100,000, landed in files
   of 5,000 like the extractor does), with a simulated server that lists all but `--deleted` of
   them (and answers 404 for those): the DuckDB query over the landing zone, the listing, the
   confirmations and the landing of the deletes. Also the cheap check (counts agree): the query
   and two small requests only.
2. The HTTP side against a real Orthanc (Debian's package, as in the tests), at a smaller scale
   (`--server-instances`, default 2,000): `GET /instances` paging and `GET /instances/{id}`
   confirmations, per instance, extrapolated to `--instances`. Skipped when Orthanc is missing.

    .venv/bin/python -m bench.orthanc_reconcile [--instances 100000] [--deleted 1000]
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from extractor.landing import LandingZone
from extractor.sources import Batches
from extractor.sources.orthanc import (
    ORTHANC_PARTITION,
    OrthancClient,
    OrthancSettings,
    extract_orthanc,
    landed_sequence,
)
from extractor.sources.orthanc.reconcile import Reconciliation, reconcile


def orthanc_id(number: int) -> str:
    digest = hashlib.sha1(str(number).encode()).hexdigest()[:40]
    return "-".join(digest[i : i + 8] for i in range(0, 40, 8))


def land_instances(lake: Path, count: int, rows_per_file: int = 5000) -> None:
    now = datetime.now(UTC)
    metadata = '{"00080060": {"vr": "CS", "Value": ["CT"]}}'
    landing = LandingZone(lake)
    for start in range(0, count, rows_per_file):
        landing.land(
            [
                {
                    "sequence": landed_sequence(4 * n + 1),
                    "timestamp": now,
                    "action": "Create",
                    "state": "Current",
                    "partition_name": ORTHANC_PARTITION,
                    "study_instance_uid": f"1.2.826.0.1.{n // 500}",
                    "series_instance_uid": f"1.2.826.0.1.{n // 500}.{n // 50}",
                    "sop_instance_uid": f"1.2.826.0.1.{n // 500}.{n // 50}.{n}",
                    "file_path": None,
                    "metadata": metadata,
                    "extracted_at": now,
                    "source": "http://127.0.0.1:8042",
                    "source_instance_id": orthanc_id(n),
                }
                for n in range(start, min(start + rows_per_file, count))
            ],
        )


class SimulatedOrthanc:
    """Lists every landed instance but the deleted ones; answers 404 for those."""

    def __init__(self, count: int, deleted: int, same_count: bool = False) -> None:
        step = max(count // max(deleted, 1), 1)
        self.gone = {orthanc_id(n) for n in range(0, count, step)[:deleted]}
        self.ids = [orthanc_id(n) for n in range(count) if orthanc_id(n) not in self.gone]
        self.count = count if same_count else len(self.ids)
        self.requests = 0

    def statistics(self) -> dict[str, Any]:
        self.requests += 1
        return {"CountInstances": self.count}

    def changes(self, since: int, limit: int) -> dict[str, Any]:
        self.requests += 1
        return {"Changes": [], "Last": 4 * self.count + 10, "Done": True}

    def instance_id_pages(self, page_size: int) -> Iterator[list[str]]:
        for start in range(0, len(self.ids) + 1, page_size):
            self.requests += 1
            yield self.ids[start : start + page_size]

    def instance_exists(self, instance_id: str) -> bool:
        self.requests += 1
        return instance_id not in self.gone


def measure_computation(instances: int, deleted: int, page_size: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="orthanc-reconcile-") as directory:
        lake = Path(directory) / "lake"
        started = time.monotonic()
        land_instances(lake, instances)
        landing_s = time.monotonic() - started

        started = time.monotonic()
        present = LandingZone(lake).present_instances().num_rows
        query_s = time.monotonic() - started

        def timed_reconcile(server: SimulatedOrthanc) -> tuple[Reconciliation, float]:
            started = time.monotonic()
            report = reconcile(
                server,
                Batches(LandingZone(lake), batch_size=5000),
                read_to=4 * instances + 10,
                source="bench",
                list_page_size=page_size,
                check_counts=True,
                now=datetime.now(UTC),
            )
            return report, time.monotonic() - started

        quiet, check_s = timed_reconcile(SimulatedOrthanc(instances, 0, same_count=True))
        server = SimulatedOrthanc(instances, deleted)
        full, full_s = timed_reconcile(server)
        assert full.deleted == deleted, full
    return {
        "landed_instances": present,
        "generate_landing_s": round(landing_s, 2),
        "landed_present_query_s": round(query_s, 3),
        "cheap_check_total_s": round(check_s, 3),
        "cheap_check_mode": quiet.mode,
        "full_total_s": round(full_s, 3),
        "full_durations_s": {k: round(v, 3) for k, v in full.durations.items()},
        "full_requests": server.requests,
        "deletes_landed": full.deleted,
    }


def measure_http(server_instances: int, scale_to: int, page_size: int) -> dict[str, Any] | str:
    tests = Path(__file__).resolve().parent.parent / "tests" / "python"
    sys.path.insert(0, str(tests))
    from support.dicom_factory import make_instance
    from support.orthanc_server import OrthancServer, find_orthanc

    from extractor.sources import make_session

    install, why = find_orthanc()
    if install is None:
        return f"skipped: {why}"
    with (
        tempfile.TemporaryDirectory(prefix="orthanc-bench-") as directory,
        OrthancServer(install, Path(directory) / "orthanc") as server,
    ):
        started = time.monotonic()
        study = "1.2.826.0.1.3680043.8.498.9"
        for n in range(server_instances):
            series = f"{study}.{n // 100}"
            server.upload(make_instance(study, series, f"{series}.{n}"))
        upload_s = time.monotonic() - started
        session = make_session(None, 2)
        started = time.monotonic()
        extracted = extract_orthanc(
            OrthancSettings(url=server.url), session, LandingZone(Path(directory) / "lake")
        )
        extract_s = time.monotonic() - started
        client = OrthancClient(session, server.url, 60)
        started = time.monotonic()
        ids = [i for page in client.instance_id_pages(page_size) for i in page]
        list_s = time.monotonic() - started
        sample = ids[:500]
        started = time.monotonic()
        for identifier in sample:
            client.instance_exists(identifier)
        confirm_s = (time.monotonic() - started) / len(sample)
        started = time.monotonic()
        client.statistics()
        statistics_s = time.monotonic() - started
        session.close()
    per_instance = list_s / len(ids)
    return {
        "orthanc": install.version,
        "server_instances": len(ids),
        "upload_s": round(upload_s, 2),
        "extract_s": round(extract_s, 2),
        "extract_per_instance_ms": round(extract_s / max(extracted.landed, 1) * 1000, 2),
        "extract_requests": extracted.requests,
        "list_s": round(list_s, 4),
        "list_per_1000_instances_ms": round(per_instance * 1000 * 1000, 2),
        f"list_extrapolated_to_{scale_to}_s": round(per_instance * scale_to, 2),
        "confirm_per_delete_ms": round(confirm_s * 1000, 2),
        "statistics_ms": round(statistics_s * 1000, 2),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--instances", type=int, default=100_000)
    parser.add_argument("--deleted", type=int, default=1_000)
    parser.add_argument("--server-instances", type=int, default=2_000)
    parser.add_argument("--list-page-size", type=int, default=10_000)
    parser.add_argument("--no-server", action="store_true", help="Skip the real Orthanc part.")
    options = parser.parse_args(argv)
    computation = measure_computation(options.instances, options.deleted, options.list_page_size)
    print("reconciliation, simulated server:")
    for name, value in computation.items():
        print(f"  {name:<28} {value}")
    if not options.no_server:
        http = measure_http(options.server_instances, options.instances, options.list_page_size)
        print("HTTP against a real Orthanc:")
        if isinstance(http, str):
            print(f"  {http}")
        else:
            for name, value in http.items():
                print(f"  {name:<28} {value}")


if __name__ == "__main__":
    main()
