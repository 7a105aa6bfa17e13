"""A policy applied to DICOM JSON documents: which rule wins, private blocks, sequences, VRs,
dates moved per patient, UIDs under 2.25, and the seed rows that cannot be applied."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from extractor.privacy import Policy, PolicyError, PrivacyKeyError, check_key
from extractor.privacy.documents import protect_document, protect_path, protect_uid
from extractor.privacy.keyed import KEY_VARIABLE, pseudonym, uid


@pytest.fixture(autouse=True)
def key(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv(KEY_VARIABLE, "unit-test-key-0123456789abcdef0123")
    yield


def policy(
    *rows: tuple[str, str] | tuple[str, str, str], profile: list[tuple[str, str]] = ()
) -> Policy:  # type: ignore[assignment]
    site = [
        {
            "attribute": row[0],
            "action": row[-1],
            "private_creator": row[1] if len(row) == 3 else None,
        }
        for row in rows
    ]
    built_in = [
        {"attribute": attribute, "action": action, "profile": True} for attribute, action in profile
    ]
    return Policy.from_rows([*site, *built_in])


def protected(document: dict, applied: Policy) -> dict:
    text = protect_document(json.dumps(document), applied)
    assert text is not None
    return json.loads(text)


def element(vr: str, *values: object) -> dict:
    return {"vr": vr, "Value": list(values)}


def test_the_site_rows_win_over_the_profile_and_exact_tags_over_patterns() -> None:
    applied = policy(
        ("00100010", "keep"),
        ("0010xxxx", "drop"),
        profile=[("00100010", "hash"), ("00080060", "drop")],
    )
    assert applied.action("00100010") == "keep"
    assert applied.action("00100020") == "drop"  # the site's pattern before the profile's silence
    assert applied.action("00080060") == "drop"
    assert applied.action("00080070") == "keep"  # named nowhere


def test_a_kept_private_attribute_keeps_its_creator_while_the_rest_of_the_group_goes() -> None:
    applied = policy(("0019xx10", "ACME 1.0", "keep"), ("private", "drop"))
    document = {
        "00190010": element("LO", "OTHER"),
        "00190011": element("LO", "ACME 1.0"),
        "00191010": element("LO", "other's"),
        "00191110": element("LO", "kept"),
        "00191111": element("LO", "not named"),
        "00080060": element("CS", "CT"),
    }
    result = protected(document, applied)
    assert {key: value for key, value in result.items() if key.startswith("0019")} == {
        "00190011": element("LO", "ACME 1.0"),
        "00191110": element("LO", "kept"),
    }
    assert result["00080060"] == element("CS", "CT")


def test_the_policy_applies_inside_the_items_of_a_kept_sequence() -> None:
    applied = policy(("00100010", "hash"), ("00081140", "drop"))
    document = {
        "00082218": {
            "vr": "SQ",
            "Value": [
                {
                    "00100010": element("PN", {"Alphabetic": "Doe^Jane"}),
                    "00080104": element("LO", "Chest"),
                }
            ],
        },
        "00081140": {"vr": "SQ", "Value": [{"00081155": element("UI", "1.2.3")}]},
    }
    result = protected(document, applied)
    assert result["00082218"]["Value"] == [
        {
            "00100010": element("PN", {"Alphabetic": pseudonym("Doe^Jane")}),
            "00080104": element("LO", "Chest"),
        }
    ]
    assert "00081140" not in result


def test_hash_gives_uids_under_2_25_and_pseudonyms_and_drops_what_it_cannot_replace() -> None:
    applied = policy(
        ("0020000D", "hash"), ("00100020", "hash"), ("00101030", "hash"), ("7FE00010", "hash")
    )
    document = {
        "0020000D": element("UI", "1.2.840.1"),
        "00100020": element("LO", "PID-1", "PID-2"),
        "00101030": element("DS", 71.5),
        "7FE00010": {"vr": "OW", "BulkDataURI": "http://127.0.0.1/bulk"},
    }
    result = protected(document, applied)
    assert result["0020000D"] == element("UI", uid("1.2.840.1"))
    assert uid("1.2.840.1").startswith("2.25.") and len(uid("1.2.840.1")) <= 64
    assert result["00100020"] == element("LO", pseudonym("PID-1"), pseudonym("PID-2"))
    assert len(pseudonym("PID-1")) == 16
    assert "00101030" not in result and "7FE00010" not in result
    # the feed's columns and paths get the same UIDs as the documents
    assert protect_uid("1.2.840.1", "0020000D", applied) == uid("1.2.840.1")
    assert protect_uid("1.2.840.2", "0020000E", applied) == "1.2.840.2"  # kept by this policy


def test_a_path_takes_the_instance_uids_replacement() -> None:
    applied = policy(("00080018", "hash"))
    path = "Microsoft.Default/1.2.3/1.2.3.4/1.2.3.4.5.dcm"
    assert (
        protect_path(path, applied)
        == f"Microsoft.Default/{uid('1.2.3')}/{uid('1.2.3.4')}/{uid('1.2.3.4.5')}.dcm"
    )


def test_dates_move_by_one_offset_per_patient() -> None:
    applied = policy(
        ("00080020", "shift"), ("00100030", "shift"), ("0008002A", "shift"), ("00080030", "shift")
    )
    first = protected(
        {
            "00100020": element("LO", "P1"),
            "00080020": element("DA", "20240301"),
            "00100030": element("DA", "19800229"),
            "0008002A": element("DT", "20240301081530.25+0100"),
            "00080030": element("TM", "0815"),
        },
        applied,
    )
    later = protected(
        {"00100020": element("LO", "P1"), "00080020": element("DA", "20240311")}, applied
    )
    other = protected(
        {"00100020": element("LO", "P2"), "00080020": element("DA", "20240301")}, applied
    )
    study, born = first["00080020"]["Value"][0], first["00100030"]["Value"][0]
    assert study != "20240301"
    assert first["0008002A"]["Value"] == [study + "081530.25+0100"]
    assert first["00080030"] == element("TM", "0815")
    from datetime import datetime

    def day(text: str) -> datetime:
        return datetime.strptime(text, "%Y%m%d")

    assert day("20240311") - day("20240301") == day(later["00080020"]["Value"][0]) - day(study)
    assert day("20240301") - day("19800229") == day(study) - day(born)
    assert other["00080020"]["Value"][0] != study  # another patient, another offset


def test_a_date_that_cannot_be_moved_is_dropped() -> None:
    applied = policy(("00080020", "shift"))
    assert "00080020" not in protected({"00080020": element("DA", "2024")}, applied)
    assert "00080020" not in protected({"00080020": element("DA", "20241399")}, applied)


def test_a_document_that_is_not_json_is_not_carried() -> None:
    assert protect_document("{not json", policy(("00100010", "drop"))) is None


def test_rows_that_cannot_be_applied_are_named() -> None:
    with pytest.raises(PolicyError) as raised:
        Policy.from_rows(
            [
                {"attribute": "00100010", "action": "encrypt"},
                {"attribute": "PatientName", "action": "drop"},
                {"attribute": "0010xx10", "private_creator": "ACME", "action": "keep"},
                {"attribute": "00080018", "action": "drop"},
            ]
        )
    reasons = [(problem.line, problem.column) for problem in raised.value.problems]
    assert reasons == [(2, "action"), (3, "attribute"), (4, "attribute"), (5, "action")]
    assert "SOPInstanceUID is a key of the lake's tables" in str(raised.value)


def test_the_key_is_checked_and_never_quoted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_VARIABLE, "short-secret")
    with pytest.raises(PrivacyKeyError) as raised:
        check_key()
    assert "short-secret" not in str(raised.value) and KEY_VARIABLE in str(raised.value)
    monkeypatch.delenv(KEY_VARIABLE)
    with pytest.raises(PrivacyKeyError):
        pseudonym("PID-1")


def test_the_sql_functions_take_and_give_nulls() -> None:
    import duckdb

    from extractor.privacy.functions import register_with_duckdb

    rules = policy(("00100010", "hash"), ("0020000D", "hash")).to_json()
    with duckdb.connect() as connection:
        register_with_duckdb(connection)
        rows = connection.execute(
            "select dicom_lake_protected_document(document, $rules),"
            " dicom_lake_protected_uid(uid, '0020000D', $rules)"
            " from (values ('{not json', null), (null, '1.2.3'),"
            ' (\'{"00100010": {"vr": "PN", "Value": [{"Alphabetic": "Doe"}]}}\', null))'
            " as feed(document, uid)",
            {"rules": rules},
        ).fetchall()
    assert rows[0] == (None, None) and rows[1] == (None, uid("1.2.3"))
    assert json.loads(rows[2][0])["00100010"]["Value"] == [{"Alphabetic": pseudonym("Doe")}]
