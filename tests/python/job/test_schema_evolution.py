"""A column of every projectable VR at every level, added to a lake that already has its tables.

The job runs as an operator runs it (`dicom-lake run`) on the local service, with a copy of the
dbt project whose tag seed gains a row per attribute; every published table must then be read by
delta-rs and by DuckDB's delta extension (delta-kernel-rs) alike, hold the new values, and the
next run must succeed. Under the fabric profile, the SQL analytics endpoint must show every
attribute (support/fabric.py). Each VR gets up to one single- and one multi-valued attribute per
level; AS and SV, with a single unseeded attribute each in the dictionary, appear at one level.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from support.dicom_factory import make_instance, stow
from support.fabric import invisible_attributes
from support.jobs import run_clean
from support.lake_checks import copy_project, delta_rows
from support.readers import kernel_rows

from extractor.build import project_dir
from extractor.build.seeds import snake_case
from extractor.delta import TABLES, DeltaProfile, publish
from extractor.lake import Lake

LEVELS = ("instance", "series", "study", "patient")
# The VRs a seed row may project (tests/singular/assert_dicom_tags_seed_is_valid.sql), with a
# value pydicom writes for each
VALUES: dict[str, Any] = {
    "AE": "STORESCP",
    "AS": "030Y",
    "CS": "CODE_1",
    "DA": "20240102",
    "DS": "1.5",
    "DT": "20240102101112.25",
    "FD": 2.5,
    "FL": 0.5,
    "IS": "7",
    "LO": "long string",
    "LT": "long text",
    "PN": "Doe^Jane",
    "SH": "short",
    "SL": -7,
    "SS": -3,
    "ST": "short text",
    "SV": -9,
    "TM": "101112.5",
    "UC": "unlimited characters",
    "UI": "1.2.826.0.1.3680043.8.498.77",
    "UL": 7,
    "UR": "http://127.0.0.1/resource",
    "US": 3,
    "UT": "unlimited text",
    "UV": 9,
}
# Groups whose attributes the service or the files themselves interpret
_GROUPS_LEFT_OUT = ("0000", "0002", "0004", "0028", "7FE0", "FFFA", "FFFC", "FFFE")
STUDY, SERIES = "1.2.826.0.1.3680043.8.498.500", "1.2.826.0.1.3680043.8.498.500.1"
NEW = f"{SERIES}.9"


def new_attributes() -> list[dict[str, str]]:
    """Per VR, up to one single-valued and one multi-valued attribute per level, none seeded."""
    seeded = {row["tag"] for row in csv.DictReader((project_dir() / "seeds/dicom_tags.csv").open())}
    dictionary = list(csv.DictReader((project_dir() / "seeds/dicom_dictionary.csv").open()))
    chosen: list[dict[str, str]] = []
    for vr in VALUES:
        candidates = [
            row
            for row in dictionary
            if row["vr"] == vr
            and row["is_retired"] == "false"
            and row["tag"] not in seeded
            and not row["tag"].startswith(_GROUPS_LEFT_OUT)
            and row["vm"] in ("1", "1-n")
        ]
        for vm in ("1", "1-n"):
            of_vm = [row for row in candidates if row["vm"] == vm]
            chosen += [{**row, "level": level} for row, level in zip(of_vm, LEVELS, strict=False)]
    return chosen


def _instance_with(attributes: list[dict[str, str]]) -> bytes:
    values = {
        row["keyword"]: VALUES[row["vr"]] if row["vm"] == "1" else [VALUES[row["vr"]]] * 2
        for row in attributes
    }
    return make_instance(STUDY, SERIES, NEW, **values)


def _levels_of(table: str) -> tuple[str, ...]:
    return {"instance": LEVELS, "series": ("series",), "study": ("study", "patient")}.get(table, ())


def test_every_vr_at_every_level_joins_a_published_lake(
    dicom_service: Any, lake_dir: Path, tmp_path: Path
) -> None:
    attributes = new_attributes()
    assert {row["vr"] for row in attributes} == set(VALUES)
    assert {row["level"] for row in attributes} == set(LEVELS)
    project = copy_project(tmp_path)
    # The job publishes the standard profile; the same marts go to a fabric-profile lake too.
    fabric = str(tmp_path / "fabric")

    def run() -> None:
        run_clean(dicom_service.url, lake_dir, "--dbt-project", str(project))
        publish(lake_dir, fabric, profile=DeltaProfile.fabric)

    stow(dicom_service.url, [make_instance(STUDY, SERIES, f"{SERIES}.{n}") for n in (1, 2)])
    run()
    with (project / "seeds" / "dicom_tags.csv").open("a") as seed:
        for row in attributes:
            seed.write(
                f"{row['tag']},{row['keyword']},{row['level']},{snake_case(row['keyword'])},,,,,\n"
            )
    stow(dicom_service.url, [_instance_with(attributes)])
    run()

    for delta in (Lake(lake_dir).default_delta_uri, fabric):
        for table in TABLES:
            uri = f"{delta}/{table}"
            read_by_kernel, read_by_delta_rs = kernel_rows(uri), delta_rows(uri)
            assert len(read_by_kernel) == len(read_by_delta_rs), uri
            if delta == fabric:
                assert invisible_attributes(uri) == [], uri
            added = [
                snake_case(row["keyword"])
                for row in attributes
                if row["level"] in _levels_of(table)
            ]
            # the new instance's row (series and study have one row, from their newest instance)
            newest = [row for row in read_by_kernel if row.get("sop_instance_uid", NEW) == NEW]
            for column in added:
                assert column in read_by_kernel[0], (uri, column)
                assert any(row[column] is not None for row in newest), (uri, column)

    # The next run succeeds and still leaves every table readable.
    stow(dicom_service.url, [make_instance(STUDY, SERIES, f"{SERIES}.10")])
    run()
    for delta in (Lake(lake_dir).default_delta_uri, fabric):
        for table in TABLES:
            uri = f"{delta}/{table}"
            assert len(kernel_rows(uri)) == len(delta_rows(uri)), uri
