"""Change-feed events for the model tests: a scenario of creates, updates, deletes, re-creates,
late events and bad values, in landing shape, and ways to read the warehouse back."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb

from extractor.build import BuildResult
from extractor.lake import Lake

PARTITION = "Microsoft.Default"
T0 = datetime(2024, 3, 1, 8, 0, tzinfo=UTC)
FIRST_EXTRACTION = datetime(2024, 3, 2, tzinfo=UTC)
SECOND_EXTRACTION = datetime(2024, 3, 3, tzinfo=UTC)
MARTS = ["instance", "series", "study", "instance_history", "dicom_value_errors"]


def at(sequence: int) -> datetime:
    """The feed timestamp of an event: one minute per sequence."""
    return T0 + timedelta(minutes=sequence)


def metadata(
    sop: str,
    *,
    study: str = "S1",
    series: str = "X1",
    modality: str = "CT",
    **overrides: object,
) -> str:
    """DICOM JSON of an instance; keyword=value overrides set or replace whole attributes."""
    document: dict[str, object] = {
        "0020000D": {"vr": "UI", "Value": [study]},
        "0020000E": {"vr": "UI", "Value": [series]},
        "00080018": {"vr": "UI", "Value": [sop]},
        "00080016": {"vr": "UI", "Value": ["1.2.840.10008.5.1.4.1.1.2"]},
        "00080060": {"vr": "CS", "Value": [modality]},
        "00100010": {
            "vr": "PN",
            "Value": [
                {"Alphabetic": "Doe^Jane", "Ideographic": "ドウ^ジェーン", "Phonetic": "do^jen"}
            ],
        },
        "00100020": {"vr": "LO", "Value": ["PID-1"]},
        "00100030": {"vr": "DA", "Value": ["19800229"]},
        "00100040": {"vr": "CS", "Value": ["F"]},
        "00080020": {"vr": "DA", "Value": ["20240301"]},
        "00080030": {"vr": "TM", "Value": ["0815"]},
        "00081030": {"vr": "LO", "Value": ["CT CHEST"]},
        "00080050": {"vr": "SH", "Value": ["ACC-1"]},
        "00080090": {"vr": "PN", "Value": [{"Alphabetic": "House^Gregory"}]},
        "00080080": {"vr": "LO", "Value": ["General Hospital"]},
        "0008103E": {"vr": "LO", "Value": ["AXIAL"]},
        "00200011": {"vr": "IS", "Value": [3]},
        "00200013": {"vr": "IS", "Value": ["12"]},
        "00080008": {"vr": "CS", "Value": ["ORIGINAL", "PRIMARY", "AXIAL"]},
        "0008002A": {"vr": "DT", "Value": ["20240301081530.25+0100"]},
        "00080023": {"vr": "DA", "Value": ["20240301"]},
        "00280010": {"vr": "US", "Value": [512]},
        "00280011": {"vr": "US", "Value": [256]},
        "00280030": {"vr": "DS", "Value": ["0.5", 0.25]},
        "00180050": {"vr": "DS", "Value": ["1.25"]},
        "00080070": {"vr": "LO"},
    }
    for key, value in overrides.items():
        document[key] = value
    return json.dumps(document)


def event(
    sequence: int,
    action: str,
    sop: str,
    meta: str | None,
    *,
    study: str = "S1",
    series: str = "X1",
    extracted_at: datetime = FIRST_EXTRACTION,
    state: str = "Current",
    timestamp: datetime | None = None,
) -> dict[str, object]:
    return {
        "sequence": sequence,
        "timestamp": timestamp or at(sequence),
        "action": action,
        "state": state,
        "partition_name": PARTITION,
        "study_instance_uid": study,
        "series_instance_uid": series,
        "sop_instance_uid": sop,
        "file_path": f"{PARTITION}/{study}/{series}/{sop}.dcm",
        "metadata": meta,
        "extracted_at": extracted_at,
        "source": "https://test-dicom.dicom.azurehealthcareapis.com",
    }


def first_batch() -> list[dict[str, object]]:
    return [
        # a: created, later updated (its newest metadata arrives in the second batch)
        event(1, "Create", "a", metadata("a", **{"00080080": {"vr": "LO", "Value": ["Old"]}})),
        # b: created then deleted
        event(2, "Create", "b", None, state="Deleted"),
        # c: created, deleted, created again with new metadata
        event(3, "Create", "c", metadata("c", **{"00080080": {"vr": "LO", "Value": ["Reborn"]}})),
        # e: the only instance of series X2, deleted later
        event(4, "Create", "e", None, series="X2", state="Deleted"),
        # f: the only instance of study S2, deleted later
        event(6, "Create", "f", None, study="S2", series="Y1", state="Deleted"),
        # g, h: series X3 (MR) disagreeing on the description; g is updated last
        event(
            7,
            "Create",
            "g",
            metadata(
                "g", series="X3", modality="MR", **{"0008103E": {"vr": "LO", "Value": ["from g"]}}
            ),
            series="X3",
        ),
        event(
            8,
            "Create",
            "h",
            metadata(
                "h", series="X3", modality="MR", **{"0008103E": {"vr": "LO", "Value": ["from h"]}}
            ),
            series="X3",
        ),
        # i: malformed values
        event(
            9,
            "Create",
            "i",
            metadata(
                "i",
                **{
                    "00080023": {"vr": "DA", "Value": ["20230230"]},
                    "00200013": {"vr": "IS", "Value": ["abc"]},
                    "00080008": {"vr": "CS", "Value": ["DERIVED", "SECONDARY"]},
                    "00280030": {"vr": "DS", "Value": ["0.5", "wide"]},
                    "00080033": {"vr": "TM", "Value": ["256000"]},
                },
            ),
        ),
        event(10, "Update", "a", metadata("a", **{"00080080": {"vr": "LO", "Value": ["Old"]}})),
        event(11, "Delete", "b", None, state="Deleted"),
        event(
            12,
            "Delete",
            "c",
            metadata("c", **{"00080080": {"vr": "LO", "Value": ["Reborn"]}}),
            state="Replaced",
        ),
        event(13, "Create", "c", metadata("c", **{"00080080": {"vr": "LO", "Value": ["Reborn"]}})),
        event(14, "Delete", "e", None, series="X2", state="Deleted"),
        event(15, "Delete", "f", None, study="S2", series="Y1", state="Deleted"),
        event(
            16,
            "Update",
            "g",
            metadata(
                "g", series="X3", modality="MR", **{"0008103E": {"vr": "LO", "Value": ["from g"]}}
            ),
            series="X3",
        ),
        # j: metadata that is not JSON: quarantined, the instance still exists
        event(17, "Create", "j", "{not json"),
        # d: deleted; its Create (lower sequence) lands only in the second batch
        event(20, "Delete", "d", None, state="Deleted"),
    ]


def second_batch() -> list[dict[str, object]]:
    later = SECOND_EXTRACTION
    return [
        # overlap re-read: a's events again, now carrying its bulk-updated metadata
        event(
            1,
            "Create",
            "a",
            metadata("a", **{"00080080": {"vr": "LO", "Value": ["New"]}}),
            extracted_at=later,
            state="Replaced",
        ),
        event(
            10,
            "Update",
            "a",
            metadata("a", **{"00080080": {"vr": "LO", "Value": ["New"]}}),
            extracted_at=later,
        ),
        # the late-landing stale Create of d (lower sequence than its Delete)
        event(5, "Create", "d", None, extracted_at=later, state="Deleted"),
        # an action nobody knows: ignored
        event(19, "Frobnicate", "a", None, extracted_at=later),
        # a JSON array is not DICOM JSON either
        event(21, "Create", "k", "[1, 2]", extracted_at=later),
    ]


def read(lake_dir: Path, sql: str, params: list[object] | None = None) -> list[tuple]:
    with duckdb.connect(str(Lake(lake_dir).warehouse), read_only=True) as connection:
        return connection.execute(sql, params or []).fetchall()


def columns(lake_dir: Path, table: str) -> list[str]:
    return [
        name
        for (name,) in read(
            lake_dir,
            "select column_name from information_schema.columns where table_name = ? "
            "order by ordinal_position",
            [table],
        )
    ]


def assert_built(result: BuildResult) -> None:
    assert result.success, (result.failed, result.messages, result.error)
