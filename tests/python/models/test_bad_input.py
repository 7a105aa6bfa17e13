"""Bad input, end to end: each bad part is quarantined or typed to NULL with a queryable reason,
the build goes on (warnings, no error), and nothing valid is lost.

Two real paths: change-feed Parquet landed with ``LandingZone.land`` for what a DICOM service cannot
produce (metadata that is not JSON, unknown actions, entries disagreeing with their metadata,
values of the wrong JSON type), and DICOM files uploaded to the local service, then extract and
``dbt build``, for what it can (a declared VR other than the dictionary's, an impossible date,
non-ASCII person names, private tags, a 10,000-item sequence).
"""

from __future__ import annotations

import json
import time as clock
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from support.dicom_factory import CT_IMAGE_STORAGE, make_instance, part10, stow
from support.extracts import run_extract

from extractor.build import BuildResult, build
from extractor.lake import Lake
from extractor.landing import LandingZone

PARTITION = "Microsoft.Default"
T0 = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)
EXTRACTED = datetime(2024, 5, 2, tzinfo=UTC)
LATER = datetime(2024, 5, 3, tzinfo=UTC)
STUDY, SERIES = "1.2.3.1", "1.2.3.1.1"
CT = CT_IMAGE_STORAGE


def read(lake_dir: Path, sql: str, params: list[object] | None = None) -> list[tuple]:
    with duckdb.connect(str(Lake(lake_dir).warehouse), read_only=True) as connection:
        return connection.execute(sql, params or []).fetchall()


def assert_built_with_warnings(result: BuildResult, *warned: str) -> None:
    """dbt build succeeded: no error, no skipped node; the named warn tests fired."""
    assert result.success, (result.failed, result.messages, result.error)
    assert not result.failed and not result.skipped, (result.failed, result.skipped)
    for test in warned:
        assert f"test.dicom_lake.{test}" in result.warned, (test, result.warned)


def errors_of(lake_dir: Path, sop: str) -> list[tuple]:
    return read(
        lake_dir,
        "select column_name, error_type, reason, malformed_value_count from dicom_value_errors "
        "where sop_instance_uid = ? order by column_name, error_type",
        [sop],
    )


def instance_row(lake_dir: Path, sop: str, *names: str) -> tuple:
    rows = read(
        lake_dir, f"select {', '.join(names)} from instance where sop_instance_uid = ?", [sop]
    )
    assert len(rows) == 1, (sop, rows)
    return rows[0]


# -- landed directly: what the server cannot produce ---------------------------------------------


def document(sop: str, *, drop: tuple[str, ...] = (), **overrides: object) -> str:
    """A valid DICOM JSON instance of STUDY/SERIES; ``drop`` removes tags, overrides set them."""
    attributes: dict[str, object] = {
        "0020000D": {"vr": "UI", "Value": [STUDY]},
        "0020000E": {"vr": "UI", "Value": [SERIES]},
        "00080018": {"vr": "UI", "Value": [sop]},
        "00080016": {"vr": "UI", "Value": [CT]},
        "00080060": {"vr": "CS", "Value": ["CT"]},
        "00080008": {"vr": "CS", "Value": ["ORIGINAL", "PRIMARY"]},
        "00100010": {"vr": "PN", "Value": [{"Alphabetic": "Doe^Jane"}]},
        "00100020": {"vr": "LO", "Value": ["PID-7"]},
        "00100030": {"vr": "DA", "Value": ["19800229"]},
        "00100040": {"vr": "CS", "Value": ["F"]},
        "00101030": {"vr": "DS", "Value": [70.5]},
        "00080020": {"vr": "DA", "Value": ["20240501"]},
        "00080030": {"vr": "TM", "Value": ["0900"]},
        "0008002A": {"vr": "DT", "Value": ["20240501090000"]},
        "00081030": {"vr": "LO", "Value": ["CT CHEST"]},
        "00080070": {"vr": "LO", "Value": ["ACME"]},
        "00080080": {"vr": "LO", "Value": ["General Hospital"]},
        "00080090": {"vr": "PN", "Value": [{"Alphabetic": "House^Gregory"}]},
        "00200011": {"vr": "IS", "Value": [2]},
        "00200013": {"vr": "IS", "Value": [7]},
        "00280010": {"vr": "US", "Value": [512]},
        "00280030": {"vr": "DS", "Value": [0.5, 0.5]},
    }
    for tag in drop:
        del attributes[tag]
    attributes.update(overrides)
    return json.dumps(attributes)


def entry(
    sequence: int,
    action: str | None,
    sop: str | None,
    meta: str | None,
    *,
    study: str | None = STUDY,
    series: str | None = SERIES,
    extracted_at: datetime = EXTRACTED,
) -> dict[str, object]:
    return {
        "sequence": sequence,
        "timestamp": T0 + timedelta(minutes=sequence),
        "action": action,
        "state": "Current",
        "partition_name": PARTITION,
        "study_instance_uid": study,
        "series_instance_uid": series,
        "sop_instance_uid": sop,
        "file_path": None,
        "metadata": meta,
        "extracted_at": extracted_at,
        "source": "https://bad-input.dicom.azurehealthcareapis.com",
    }


WRONG_TYPES = {
    "00280010": {"vr": "US", "Value": [{"rows": 512}]},  # an object in a US
    "00080070": {"vr": "LO", "Value": [["ACME"]]},  # an array in a LO
    "00100040": {"vr": "CS", "Value": [True]},  # a boolean in a CS
    "00080090": {"vr": "PN", "Value": ["House^Gregory"]},  # a PN that is a string
    "00081030": {"vr": "LO", "Value": "CT CHEST"},  # a Value that is not an array
    "00080008": {"vr": "CS", "Value": ["ORIGINAL", {"x": 1}]},  # one bad value of several
}

UNPARSABLE = {
    "00080020": {"vr": "DA", "Value": ["20230230"]},
    "00080030": {"vr": "TM", "Value": ["256000"]},
    "0008002A": {"vr": "DT", "Value": ["20241301"]},
    "00200011": {"vr": "IS", "Value": ["1.5"]},
    "00200013": {"vr": "IS", "Value": ["abc"]},
    "00101030": {"vr": "DS", "Value": ["heavy"]},
    "00280030": {"vr": "DS", "Value": ["0.5", "wide"]},
}


def landed_batches() -> list[list[dict[str, object]]]:
    first = [
        entry(1, "Create", "good-1", document("good-1")),
        entry(2, "create", "good-2", document("good-2")),  # actions are read case-insensitively
        entry(3, "Create", "not-json", "{not json"),
        entry(4, "Create", "not-object", '"just a string"'),
        entry(5, "Create", "no-uids", document("no-uids", drop=("0020000D", "00080018"))),
        # the entry says S1 / X1 / uid-disagrees, the metadata another study and SOP instance
        entry(
            6,
            "Create",
            "uid-disagrees",
            document(
                "9.9.9",
                **{"0020000D": {"vr": "UI", "Value": ["9.9"]}},
            ),
        ),
        entry(
            7,
            "Create",
            "wrong-vr",
            document(
                "wrong-vr",
                **{
                    "00200013": {"vr": "DA", "Value": ["20240101"]},
                    "00100030": {"vr": "TM", "Value": ["0815"]},
                },
            ),
        ),
        entry(8, "Create", "wrong-type", document("wrong-type", **WRONG_TYPES)),
        entry(9, "Create", "unparsable", document("unparsable", **UNPARSABLE)),
        # actions nobody knows: ignored, listed; one carries metadata that must not be used
        entry(
            10,
            "Frobnicate",
            "good-1",
            document("good-1", **{"00080080": {"vr": "LO", "Value": ["from Frobnicate"]}}),
            extracted_at=LATER,
        ),
        entry(11, "Purge", "ghost", document("ghost")),
        entry(12, None, "good-2", None),
        # an entry that names no SOP instance: ignored, listed; the build goes on
        entry(13, "Create", None, document("nameless")),
    ]
    second = [
        entry(14, "Update", "good-2", document("good-2"), extracted_at=LATER),
        # an empty or blank UID names nothing either: not one instance for all such entries
        entry(15, "Create", "", document("empty"), extracted_at=LATER),
        entry(16, "Create", "  ", document("blank"), extracted_at=LATER),
    ]
    return [first, second]


@pytest.fixture(scope="module")
def landed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, BuildResult]]:
    """One lake, two batches, two builds (the second incremental)."""
    lake = tmp_path_factory.mktemp("bad-input") / "lake"
    first, second = landed_batches()
    LandingZone(lake).land(first)
    assert_built_with_warnings(build(lake))
    LandingZone(lake).land(second)
    yield lake, build(lake)


@pytest.fixture(scope="module")
def lake(landed: tuple[Path, BuildResult]) -> Path:
    return landed[0]


def test_the_build_warns_and_never_errors(landed: tuple[Path, BuildResult]) -> None:
    assert_built_with_warnings(
        landed[1],
        "assert_no_quarantined_metadata",
        "assert_no_malformed_dicom_values",
        "assert_metadata_uids_match_feed",
        "assert_no_feed_anomalies",
    )


def test_every_valid_instance_is_there(lake: Path) -> None:
    # every entry with a known action and a full key is an instance, bad metadata or not;
    # the unknown actions and the nameless entry add nothing
    assert read(lake, "select sop_instance_uid from instance order by 1") == [
        ("good-1",),
        ("good-2",),
        ("no-uids",),
        ("not-json",),
        ("not-object",),
        ("uid-disagrees",),
        ("unparsable",),
        ("wrong-type",),
        ("wrong-vr",),
    ]
    assert read(lake, "select count(*) from instance_history") == [(10,)]
    assert read(lake, "select series_instance_uid, instance_count from series") == [(SERIES, 9)]
    assert read(lake, "select study_instance_uid, series_count, instance_count from study") == [
        (STUDY, 1, 9)
    ]
    # the valid instances are typed in full, with no error row
    assert instance_row(
        lake, "good-1", "study_date", "instance_number", "pixel_spacing", "institution_name"
    ) == (date(2024, 5, 1), 7, [0.5, 0.5], "General Hospital")
    assert errors_of(lake, "good-1") == [] and errors_of(lake, "good-2") == []


def test_metadata_that_is_not_json_is_quarantined(lake: Path) -> None:
    assert read(
        lake,
        "select sop_instance_uid, sequence, reason, metadata from metadata_quarantine "
        "order by sequence",
    ) == [
        ("not-json", 3, "invalid JSON", "{not json"),
        ("not-object", 4, "JSON is not an object", '"just a string"'),
    ]
    # the instances exist, with null attributes and no metadata
    assert instance_row(lake, "not-json", "modality", "metadata", "last_sequence") == (
        None,
        None,
        3,
    )
    assert instance_row(lake, "not-object", "modality", "metadata") == (None, None)


def test_missing_uids_keep_the_instance_under_the_entry_uids(lake: Path) -> None:
    assert read(
        lake,
        "select study_instance_uid, series_instance_uid, modality, patient_name, study_date "
        "from instance where sop_instance_uid = 'no-uids'",
    ) == [(STUDY, SERIES, "CT", "Doe^Jane", date(2024, 5, 1))]
    assert errors_of(lake, "no-uids") == [
        (
            "sop_instance_uid",
            "uid_missing",
            "SOPInstanceUID is missing from the metadata: the feed entry's no-uids is the key",
            0,
        ),
        (
            "study_instance_uid",
            "uid_missing",
            f"StudyInstanceUID is missing from the metadata: the feed entry's {STUDY} is the key",
            0,
        ),
    ]


def test_uids_disagreeing_with_the_entry_are_listed_and_the_entry_wins(lake: Path) -> None:
    assert read(
        lake,
        "select study_instance_uid, sop_instance_uid, modality from instance "
        "where sop_instance_uid in ('uid-disagrees', '9.9.9') or study_instance_uid = '9.9'",
    ) == [(STUDY, "uid-disagrees", "CT")]
    assert errors_of(lake, "uid-disagrees") == [
        (
            "sop_instance_uid",
            "uid_mismatch",
            "SOPInstanceUID in the metadata is 9.9.9, the feed entry says uid-disagrees: "
            "the entry's UID is the key",
            1,
        ),
        (
            "study_instance_uid",
            "uid_mismatch",
            f"StudyInstanceUID in the metadata is 9.9, the feed entry says {STUDY}: "
            "the entry's UID is the key",
            1,
        ),
    ]
    # the metadata is kept as sent
    metadata = json.loads(instance_row(lake, "uid-disagrees", "metadata")[0])
    assert metadata["00080018"]["Value"] == ["9.9.9"]


def test_a_declared_vr_other_than_the_dictionary_is_null(lake: Path) -> None:
    assert instance_row(
        lake, "wrong-vr", "instance_number", "patient_birth_date", "rows", "study_date"
    ) == (None, None, 512, date(2024, 5, 1))
    assert read(
        lake,
        "select column_name, vr, declared_vr, raw_value, error_type, reason "
        "from dicom_value_errors where sop_instance_uid = 'wrong-vr' order by column_name",
    ) == [
        (
            "instance_number",
            "IS",
            "DA",
            '["20240101"]',
            "vr_mismatch",
            "declared VR DA is not the dictionary VR IS: the value is not typed",
        ),
        (
            "patient_birth_date",
            "DA",
            "TM",
            '["0815"]',
            "vr_mismatch",
            "declared VR TM is not the dictionary VR DA: the value is not typed",
        ),
    ]


def test_values_of_the_wrong_json_type_are_null(lake: Path) -> None:
    assert instance_row(
        lake,
        "wrong-type",
        "rows",
        "manufacturer",
        "patient_sex",
        "referring_physician_name",
        "study_description",
        "image_type",
        # the rest of the instance is untouched
        "modality",
        "patient_name",
        "instance_number",
        "study_date",
    ) == (None, None, None, None, None, ["ORIGINAL", None], "CT", "Doe^Jane", 7, date(2024, 5, 1))
    other = "a value is a JSON object, array or boolean; VR {} takes strings or numbers"
    assert errors_of(lake, "wrong-type") == [
        ("image_type", "wrong_json_type", other.format("CS"), 1),
        ("manufacturer", "wrong_json_type", other.format("LO"), 1),
        ("patient_sex", "wrong_json_type", other.format("CS"), 1),
        (
            "referring_physician_name",
            "wrong_json_type",
            "a value is not a JSON object, as VR PN requires",
            1,
        ),
        ("rows", "wrong_json_type", other.format("US"), 1),
        ("study_description", "value_not_an_array", "Value is a JSON string, not an array", 1),
    ]


def test_invalid_dates_and_numbers_are_null(lake: Path) -> None:
    assert instance_row(
        lake,
        "unparsable",
        "study_date",
        "study_time",
        "acquisition_date_time",
        "series_number",
        "instance_number",
        "patient_weight",
        "pixel_spacing",
        "patient_birth_date",
        "rows",
    ) == (None, None, None, None, None, None, [0.5, None], date(1980, 2, 29), 512)
    assert errors_of(lake, "unparsable") == [
        ("acquisition_date_time", "unparsable_value", "a value is not a valid DT (datetime)", 1),
        ("instance_number", "unparsable_value", "a value is not a valid IS (integer)", 1),
        ("patient_weight", "unparsable_value", "a value is not a valid DS (decimal)", 1),
        ("pixel_spacing", "unparsable_value", "a value is not a valid DS (decimal)", 1),
        ("series_number", "unparsable_value", "a value is not a valid IS (integer)", 1),
        ("study_date", "unparsable_value", "a value is not a valid DA (date)", 1),
        ("study_time", "unparsable_value", "a value is not a valid TM (time)", 1),
    ]


def test_unknown_actions_and_nameless_entries_are_ignored_and_listed(lake: Path) -> None:
    ignored = ": the event is ignored for existence, history and attributes"
    nameless = "the entry names no sop_instance_uid (or an empty one)"
    assert read(
        lake,
        "select sequence, sop_instance_uid, action, anomaly, reason, has_metadata "
        "from feed_anomalies order by sequence",
    ) == [
        (10, "good-1", "Frobnicate", "unknown_action",
         "action 'Frobnicate' is not Create, Update or Delete" + ignored, True),
        (11, "ghost", "Purge", "unknown_action",
         "action 'Purge' is not Create, Update or Delete" + ignored, True),
        (12, "good-2", None, "unknown_action", "the entry has no action" + ignored, False),
        (13, None, "Create", "missing_key", nameless + ignored, True),
        (15, "", "Create", "missing_key", nameless + ignored, True),
        (16, "  ", "Create", "missing_key", nameless + ignored, True),
    ]  # fmt: skip
    # the newer metadata of the unknown action is not used; good-2's update is its last event
    assert instance_row(lake, "good-1", "institution_name", "last_sequence") == (
        "General Hospital",
        1,
    )
    assert instance_row(lake, "good-2", "last_action", "last_sequence") == ("Update", 14)
    assert read(lake, "select count(*) from instance_history where sequence >= 10") == [(1,)]


# -- through the local DICOM service: extract, then build ----------------------------------------

STUDY_S, SERIES_S = "1.2.826.0.1.3680043.8.498.700", "1.2.826.0.1.3680043.8.498.700.1"
SEQUENCE_ITEMS = 10_000


def base_dataset(sop: str, **attributes: object) -> Dataset:
    dataset = Dataset()
    dataset.SOPClassUID = CT
    dataset.SOPInstanceUID = sop
    dataset.StudyInstanceUID = STUDY_S
    dataset.SeriesInstanceUID = SERIES_S
    dataset.Modality = "CT"
    dataset.PatientID = "P-9"
    dataset.StudyDate = "20240501"
    for keyword, value in attributes.items():
        setattr(dataset, keyword, value)
    return dataset


def uploads() -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    files["valid"] = make_instance(STUDY_S, SERIES_S, f"{SERIES_S}.1", InstanceNumber=1)

    # a declared VR other than the dictionary's: InstanceNumber as DA, Rows as SS
    wrong_vr = base_dataset(f"{SERIES_S}.2")
    wrong_vr.add(DataElement(0x00200013, "DA", "20240101"))
    wrong_vr.add(DataElement(0x00280010, "SS", 512))
    wrong_vr.Columns = 256
    files["wrong-vr"] = part10(wrong_vr)

    # an impossible date and datetime; an IS "abc" (the service drops it at upload, like Azure)
    invalid = make_instance(
        STUDY_S,
        SERIES_S,
        f"{SERIES_S}.3",
        StudyDate="20230230",
        AcquisitionDateTime="20241301250000",
        InstanceNumber="123",
        SeriesDescription="still here",
    )
    placeholder = b"\x20\x00\x13\x00IS\x04\x00123 "
    assert placeholder in invalid
    files["invalid-values"] = invalid.replace(placeholder, b"\x20\x00\x13\x00IS\x04\x00abc ")

    # person names in Unicode: Alphabetic, Ideographic and Phonetic components
    files["unicode-names"] = part10(
        base_dataset(
            f"{SERIES_S}.4",
            SpecificCharacterSet="ISO_IR 192",
            PatientName="Yamada^Tarou=山田^太郎=やまだ^たろう",
            ReferringPhysicianName="Müller^Zoë",
            InstitutionName="Hôpital Саратов 病院",
        )
    )
    # ideographic only: no Alphabetic component at all
    files["ideographic-only"] = part10(
        base_dataset(
            f"{SERIES_S}.5", SpecificCharacterSet="ISO_IR 192", PatientName="=김^희중=희중"
        )
    )

    # private tags: a private creator and its block, next to the standard attributes
    private = base_dataset(f"{SERIES_S}.6", InstanceNumber=6)
    block = private.private_block(0x0009, "ACME 1.0", create=True)
    block.add_new(0x01, "LO", "secret")
    block.add_new(0x02, "US", 7)
    block.add_new(0x03, "DS", "1.5")
    files["private-tags"] = part10(private)

    # a sequence of 10,000 items
    huge = base_dataset(f"{SERIES_S}.7", InstanceNumber=7)
    items = []
    for number in range(SEQUENCE_ITEMS):
        item = Dataset()
        item.ReferencedSOPClassUID = CT
        item.ReferencedSOPInstanceUID = f"1.2.826.0.1.3680043.8.498.701.{number}"
        items.append(item)
    huge.ReferencedImageSequence = Sequence(items)
    files["huge-sequence"] = part10(huge)
    return files


def extract_and_build(service_url: str, lake_dir: Path) -> tuple[BuildResult, float]:
    run_extract(service_url, lake_dir, timeout=10)
    started = clock.monotonic()
    result = build(lake_dir)
    return result, clock.monotonic() - started


def test_bad_dicom_files_through_the_service(dicom_service, lake_dir: Path) -> None:
    files = uploads()
    stow(dicom_service.url, files.values())
    result, seconds = extract_and_build(dicom_service.url, lake_dir)
    assert_built_with_warnings(result, "assert_no_malformed_dicom_values")
    # a 10,000-item sequence does not slow the build materially (it takes a few seconds)
    assert seconds < 60, seconds

    # every uploaded instance is there, under the service's UIDs
    assert sorted(dicom_service.store.instance_keys()) == read(
        lake_dir,
        "select partition_name, study_instance_uid, series_instance_uid, sop_instance_uid "
        "from instance order by all",
    )
    assert read(lake_dir, "select count(*) from instance") == [(len(files),)]
    assert read(lake_dir, "select instance_count from series") == [(len(files),)]

    # the declared VR other than the dictionary's: null, with the reason
    assert instance_row(lake_dir, f"{SERIES_S}.2", "instance_number", "rows", "columns") == (
        None,
        None,
        256,
    )
    assert errors_of(lake_dir, f"{SERIES_S}.2") == [
        (
            "instance_number",
            "vr_mismatch",
            "declared VR DA is not the dictionary VR IS: the value is not typed",
            1,
        ),
        (
            "rows",
            "vr_mismatch",
            "declared VR SS is not the dictionary VR US: the value is not typed",
            1,
        ),
    ]

    # the impossible date and datetime are null with the reason; the IS the service dropped
    # is simply absent; the instance's valid attributes are there
    assert instance_row(
        lake_dir,
        f"{SERIES_S}.3",
        "study_date",
        "acquisition_date_time",
        "instance_number",
        "series_description",
        "modality",
    ) == (None, None, None, "still here", "CT")
    assert errors_of(lake_dir, f"{SERIES_S}.3") == [
        ("acquisition_date_time", "unparsable_value", "a value is not a valid DT (datetime)", 1),
        ("study_date", "unparsable_value", "a value is not a valid DA (date)", 1),
    ]

    # Unicode person names, every component, and no error
    assert instance_row(
        lake_dir,
        f"{SERIES_S}.4",
        "patient_name",
        "patient_name_ideographic",
        "patient_name_phonetic",
        "referring_physician_name",
        "institution_name",
        "specific_character_set",
    ) == (
        "Yamada^Tarou",
        "山田^太郎",
        "やまだ^たろう",
        "Müller^Zoë",
        "Hôpital Саратов 病院",
        ["ISO_IR 192"],
    )
    assert instance_row(
        lake_dir,
        f"{SERIES_S}.5",
        "patient_name",
        "patient_name_ideographic",
        "patient_name_phonetic",
    ) == (None, "김^희중", "희중")

    # private tags stay in the metadata, intact, and disturb nothing
    private = json.loads(instance_row(lake_dir, f"{SERIES_S}.6", "metadata")[0])
    assert private["00090010"] == {"vr": "LO", "Value": ["ACME 1.0"]}
    assert private["00091001"] == {"vr": "LO", "Value": ["secret"]}
    assert private["00091002"] == {"vr": "US", "Value": [7]}
    assert private["00091003"]["vr"] == "DS"
    assert instance_row(lake_dir, f"{SERIES_S}.6", "instance_number", "modality") == (6, "CT")

    # the 10,000-item sequence is in the metadata, item for item
    huge = json.loads(instance_row(lake_dir, f"{SERIES_S}.7", "metadata")[0])
    items = huge["00081140"]["Value"]
    assert len(items) == SEQUENCE_ITEMS
    assert items[-1]["00081155"]["Value"] == [f"1.2.826.0.1.3680043.8.498.701.{SEQUENCE_ITEMS - 1}"]
    assert instance_row(lake_dir, f"{SERIES_S}.7", "instance_number", "study_date") == (
        7,
        date(2024, 5, 1),
    )

    # the only error rows are the ones above: nothing valid was flagged
    assert read(
        lake_dir,
        "select sop_instance_uid, count(*) from dicom_value_errors group by all order by all",
    ) == [(f"{SERIES_S}.2", 2), (f"{SERIES_S}.3", 2)]
    assert read(lake_dir, "select count(*) from metadata_quarantine") == [(0,)]
    assert read(lake_dir, "select count(*) from feed_anomalies") == [(0,)]


def test_typing_stays_quick_on_wide_documents(lake_dir: Path) -> None:
    """A build over many documents with a large sequence each stays within seconds."""
    big = document(
        "x",
        **{
            "00081140": {
                "vr": "SQ",
                "Value": [{"00081155": {"vr": "UI", "Value": [f"1.2.{n}"]}} for n in range(2_000)],
            }
        },
    )
    rows = [
        entry(n, "Create", f"wide-{n}", big.replace('"x"', f'"wide-{n}"')) for n in range(1, 201)
    ]
    LandingZone(lake_dir).land(rows)
    started = clock.monotonic()
    assert_built_with_warnings(build(lake_dir))
    assert clock.monotonic() - started < 60
    assert read(lake_dir, "select count(*), count(study_date) from instance") == [(200, 200)]
    assert read(lake_dir, "select count(*) from dicom_value_errors") == [(0,)]
