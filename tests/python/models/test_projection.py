"""Projection beyond the top level (seeds/dicom_tags.csv): attributes inside sequences, by their
first item or every item, and private attributes found by their creator in each document; typed
in DuckDB and in the published Delta tables, read back by two readers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from deltalake import DeltaTable
from support.feed_events import assert_built, event, metadata, read
from support.lake_checks import copy_project
from support.projection import (
    COLUMNS,
    DOCUMENT_A,
    DOCUMENT_B,
    EXPECTED,
    SEED_ROWS,
    creator,
    document_b,
)
from support.readers import kernel_query

from extractor.build import build
from extractor.delta import publish
from extractor.landing import LandingZone


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("projection")
    project = copy_project(root)
    with (project / "seeds" / "dicom_tags.csv").open("a") as seed:
        seed.write(SEED_ROWS)
    lake = root / "lake"
    LandingZone(lake).land(
        [event(1, "Create", "a", DOCUMENT_A), event(2, "Create", "b", DOCUMENT_B)]
    )
    assert_built(build(lake, project_dir=project))
    return lake


def test_sequence_paths_and_private_attributes_are_projected(lake: Path) -> None:
    rows = read(lake, f"select sop_instance_uid, {COLUMNS} from instance order by 1")
    assert rows == EXPECTED


def test_the_columns_are_typed_by_the_leaf_vr(lake: Path) -> None:
    types = dict(
        read(
            lake,
            "select column_name, data_type from information_schema.columns"
            " where table_name = 'instance'",
        )
    )
    assert {name.strip(): types[name.strip()] for name in COLUMNS.split(",")} == {
        "anatomic_region": "VARCHAR",
        "anatomic_region_codes": "VARCHAR[]",
        "shared_pixel_spacing": "DOUBLE[]",
        "frame_slice_thicknesses": "DOUBLE[]",
        "siemens_number_of_slices": "BIGINT",
        "siemens_slice_duration": "DOUBLE",
        "acme_scan_mode": "VARCHAR",
    }


def test_a_series_carries_its_sequence_attributes(lake: Path) -> None:
    # the series takes its attributes from its latest instance, b
    assert read(lake, "select anatomic_region, anatomic_region_codes from series") == [
        ("Chest", ["T-D3000"])
    ]


def test_an_item_value_that_cannot_be_typed_is_listed(lake: Path) -> None:
    assert read(
        lake,
        "select sop_instance_uid, tag, keyword, column_name, vr, declared_vr, raw_value,"
        " malformed_value_count, error_type from dicom_value_errors",
    ) == [
        (
            "a",
            "52009230>00289110>00180050",
            "PerFrameFunctionalGroupsSequence>PixelMeasuresSequence>SliceThickness",
            "frame_slice_thicknesses",
            "DS",
            "DS",
            '["thick"]',
            1,
            "unparsable_value",
        )
    ]


def test_the_columns_reach_delta_typed(lake: Path, tmp_path: Path) -> None:
    delta = tmp_path / "delta"
    publish(lake, str(delta))
    uri = str(delta / "instance")
    fields = json.loads(DeltaTable(uri).schema().to_json())["fields"]
    schema = {field["name"]: field["type"] for field in fields}
    string_list = {"type": "array", "elementType": "string", "containsNull": True}
    double_list = {"type": "array", "elementType": "double", "containsNull": True}
    assert {name.strip(): schema[name.strip()] for name in COLUMNS.split(",")} == {
        "anatomic_region": "string",
        "anatomic_region_codes": string_list,
        "shared_pixel_spacing": double_list,
        "frame_slice_thicknesses": double_list,
        "siemens_number_of_slices": "long",
        "siemens_slice_duration": "double",
        "acme_scan_mode": "string",
    }
    by_delta_rs = sorted(
        tuple(row[name.strip()] for name in ["sop_instance_uid", *COLUMNS.split(",")])
        for row in DeltaTable(uri).to_pyarrow_table().to_pylist()
    )
    by_kernel = [
        tuple(row[name] for name in ["sop_instance_uid", *(n.strip() for n in COLUMNS.split(","))])
        for row in kernel_query({"t": uri}, f"select sop_instance_uid, {COLUMNS} from t order by 1")
    ]
    assert by_delta_rs == by_kernel == EXPECTED


def test_the_metadata_document_is_kept_whole(lake: Path) -> None:
    # the private block is renamed only in the copy the projection reads
    (document,) = read(lake, "select metadata from instance where sop_instance_uid = 'b'")[0]
    assert json.loads(document)["0019120A"] == {"vr": "US", "Value": [48]}


def test_another_creators_block_and_lower_case_keys(tmp_path: Path) -> None:
    project = copy_project(tmp_path)
    with (project / "seeds" / "dicom_tags.csv").open("a") as seed:
        seed.write(SEED_ROWS)
    lake = tmp_path / "lake"
    # c: offset 0A of another creator's block must not be read as the SIEMENS one
    other = metadata(
        "c", **{"00190010": creator("OTHER VENDOR"), "0019100A": {"vr": "US", "Value": [5]}}
    )
    # d: b with every key in lower case ("0019120a", "00190012"), as some writers send them
    lower = json.dumps({key.lower(): value for key, value in json.loads(document_b("d")).items()})
    LandingZone(lake).land([event(1, "Create", "c", other), event(2, "Create", "d", lower)])
    assert_built(build(lake, project_dir=project))
    assert read(
        lake,
        "select sop_instance_uid, siemens_number_of_slices, anatomic_region,"
        " anatomic_region_codes, acme_scan_mode from instance order by 1",
    ) == [("c", None, None, None, None), ("d", 48, "Chest", ["T-D3000"], "HELICAL")]
