"""The VR typing macros: compiled by dbt (`dbt compile --inline`), run on DuckDB."""

from __future__ import annotations

import json
from datetime import date, datetime, time

import duckdb
import pytest

from extractor.build import run_dbt

# (macro, the DICOM value as a SQL literal, expected result)
CASES = [
    ("dicom_date", "'20240229'", date(2024, 2, 29)),
    ("dicom_date", "' 20240301 '", date(2024, 3, 1)),
    ("dicom_date", "'20230230'", None),
    ("dicom_date", "'2024-03-01'", None),
    ("dicom_date", "'202403'", None),
    ("dicom_date", "null", None),
    ("dicom_time", "'08'", time(8, 0)),
    ("dicom_time", "'0815'", time(8, 15)),
    ("dicom_time", "'081530'", time(8, 15, 30)),
    ("dicom_time", "'081530.123456'", time(8, 15, 30, 123456)),
    ("dicom_time", "'08:15:30'", time(8, 15, 30)),
    ("dicom_time", "'256000'", None),
    ("dicom_time", "'235960'", time(23, 59, 59, 999999)),  # a leap second, inside its minute
    ("dicom_time", "'235960.5'", time(23, 59, 59, 999999)),
    ("dicom_time", "'235961'", None),
    ("dicom_time", "'0815.5'", None),
    ("dicom_time", "'noon'", None),
    ("dicom_datetime", "'2024'", datetime(2024, 1, 1)),
    ("dicom_datetime", "'20240301081530.25'", datetime(2024, 3, 1, 8, 15, 30, 250000)),
    ("dicom_datetime", "'20240301081530+0100'", datetime(2024, 3, 1, 8, 15, 30)),
    ("dicom_datetime", "'202402300815'", None),
    ("dicom_datetime", "'yesterday'", None),
    ("dicom_datetime", "'20161231235960'", datetime(2016, 12, 31, 23, 59, 59, 999999)),
    ("dicom_integer", "'12'", 12),
    ("dicom_integer", "' -3 '", -3),
    ("dicom_integer", "'abc'", None),
    ("dicom_integer", "'1.5'", None),
    ("dicom_integer", "'5.0'", 5),
    ("dicom_integer", "' -7.00 '", -7),
    ("dicom_integer", "'5.'", 5),
    ("dicom_integer", "'5.01'", None),
    ("dicom_integer", "'4294967295'", 4294967295),
    ("dicom_decimal", "'0.5'", 0.5),
    ("dicom_decimal", "'-1.5e3'", -1500.0),
    ("dicom_decimal", "'wide'", None),
    ("dicom_decimal", "'nan'", None),
    ("dicom_decimal", "'.5'", 0.5),
    ("dicom_integer", "'99999999999999999999999'", None),
    ("dicom_text", "'CT'", "CT"),
]

# (macro, the attribute's JSON Value, further macro arguments, expected result)
VALUE_CASES = [
    ("dicom_value", [512], ("US", "1"), 512),
    ("dicom_value", ["12"], ("IS", "1"), 12),
    ("dicom_value", ["A", "B", "C"], ("CS", "2-n"), ["A", "B", "C"]),
    ("dicom_value", ["0.5", 0.25], ("DS", "2"), [0.5, 0.25]),
    ("dicom_value", [{"Alphabetic": "Doe^J"}], ("PN", "1"), "Doe^J"),
    (
        "dicom_value",
        [{"Alphabetic": "A"}, {"Phonetic": "b"}],
        ("PN", "1-n", "Phonetic"),
        [None, "b"],
    ),
    ("dicom_value", ["x"], ("US or SS", "1"), None),
    ("dicom_value_error_count", ["20230230"], ("DA", "1"), 1),
    ("dicom_value_error_count", ["1", "x", "y"], ("IS", "1-n"), 2),
    ("dicom_value_error_count", ["1", "x"], ("IS", "1"), 0),
    ("dicom_value_error_count", "CT", ("CS", "1"), 1),
    ("dicom_value_error_count", ["Doe"], ("PN", "1"), 1),
    ("dicom_value_error_count", ["anything"], ("LO", "1"), 0),
]

SNAKE_CASES = [
    ("SOPInstanceUID", "sop_instance_uid"),
    ("PatientName", "patient_name"),
    ("StudyID", "study_id"),
    ("AcquisitionDateTime", "acquisition_date_time"),
]


def jinja_string(text: str) -> str:
    """A Jinja string literal (JSON escaping is valid Jinja escaping for ASCII text)."""
    return json.dumps(text)


def sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def value_expression(macro: str, value: object, arguments: tuple[str, ...]) -> str:
    rendered = [jinja_string(sql_literal(json.dumps(value)))]
    rendered += [jinja_string(argument) for argument in arguments]
    return "{{ " + macro + "(" + ", ".join(rendered) + ") }}"


@pytest.fixture(scope="module")
def shown(tmp_path_factory: pytest.TempPathFactory) -> list:
    """Every case as one column of a single query, compiled in one dbt run."""
    expressions: list[str] = []
    expressions += [
        "{{ " + macro + "(" + jinja_string(literal) + ") }}" for macro, literal, _ in CASES
    ]
    expressions += [value_expression(macro, value, args) for macro, value, args, _ in VALUE_CASES]
    expressions += [
        "{{ dicom_keyword_to_snake_case(" + jinja_string(sql_literal(keyword)) + ") }}"
        for keyword, _ in SNAKE_CASES
    ]
    query = "select " + ", ".join(f"{e} as c{i}" for i, e in enumerate(expressions))
    lake = tmp_path_factory.mktemp("macros") / "lake"
    outcome = run_dbt(lake, ["compile", "--inline", query])
    assert outcome.success, outcome.exception
    compiled = outcome.result.results[0].node.compiled_code
    with duckdb.connect() as connection:
        return list(connection.execute(compiled).fetchall()[0])


@pytest.mark.parametrize(("index", "case"), list(enumerate(CASES)))
def test_vr_macros(shown: list, index: int, case: tuple) -> None:
    macro, literal, expected = case
    assert shown[index] == expected, f"{macro}({literal})"


@pytest.mark.parametrize(("index", "case"), list(enumerate(VALUE_CASES)))
def test_value_macros(shown: list, index: int, case: tuple) -> None:
    macro, value, arguments, expected = case
    assert shown[len(CASES) + index] == expected, (macro, value, arguments)


@pytest.mark.parametrize(("index", "case"), list(enumerate(SNAKE_CASES)))
def test_keyword_to_snake_case(shown: list, index: int, case: tuple) -> None:
    keyword, expected = case
    assert shown[len(CASES) + len(VALUE_CASES) + index] == expected, keyword
