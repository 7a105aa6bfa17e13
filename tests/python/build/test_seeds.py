"""The projected attributes' seed, checked before dbt starts (extractor/build/seeds.py): each
row that cannot be projected is named by its line, its column and the reason."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from extractor.build import SeedError, project_dir
from extractor.build.seeds import check_projected_tags, snake_case

HEADER = "tag,keyword,level,column_name,pn_extra_components\n"


def project_with_seed(tmp_path: Path, rows: str, header: str = HEADER) -> Path:
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    shutil.copy(project_dir() / "seeds" / "dicom_dictionary.csv", seeds)
    (seeds / "dicom_tags.csv").write_text(header + rows)
    return tmp_path


def problems(project: Path) -> list[str]:
    with pytest.raises(SeedError) as raised:
        check_projected_tags(project)
    assert str(raised.value).count("\n") == len(raised.value.problems)  # one line per row
    return [str(problem) for problem in raised.value.problems]


def test_the_bundled_seed_is_valid() -> None:
    check_projected_tags(project_dir())


def test_each_bad_row_is_named_with_its_column_and_reason(tmp_path: Path) -> None:
    rows = (
        "00080060,Modality,series,modality,\n"  # line 2: fine
        "0008,0060,Modality,series,modality\n"
        "00091001,,series,private_thing,\n"
        "00081110,ReferencedStudySequence,study,referenced_study_sequence,\n"
        "7FE00010,PixelData,instance,pixel_data,\n"
        "00100010,PatientsName,patient,patients_name,\n"
        "00100020,PatientID,exam,patient_id,\n"
        "00080070,Manufacturer,series,maker,\n"
        "00100030,PatientBirthDate,patient,patient_birth_date,phonetic\n"
        "00100010,PatientName,patient,patient_name,ideographic;phonetik\n"
        "00080060,Modality,series,modality,\n"
        "ZZZZ0000,Nothing,series,nothing,\n"
        "00080061,ModalitiesInStudy,study,modalities_in_study,\n"  # line 14: fine
    )
    project = project_with_seed(tmp_path, rows)

    assert problems(project) == [
        "seeds/dicom_tags.csv line 2, column tag: 00080060 is listed on line(s) 12 too",
        "seeds/dicom_tags.csv line 3, column tag: '0008' is not 8 hex digits (group then"
        " element: 00080060)",
        "seeds/dicom_tags.csv line 4, column tag: 00091001 is a private attribute (odd group"
        " 0009): private attributes are not in dicom_dictionary and cannot be projected as"
        " columns",
        "seeds/dicom_tags.csv line 5, column tag: 00081110 (ReferencedStudySequence) has VR SQ,"
        " a sequence: it has no value a column can hold",
        "seeds/dicom_tags.csv line 6, column tag: 7FE00010 (PixelData) has VR OB or OW, bulk"
        " data: it has no value a column can hold",
        "seeds/dicom_tags.csv line 7, column keyword: 'PatientsName' is not 00100010's keyword:"
        " PatientName",
        "seeds/dicom_tags.csv line 8, column level: 'exam' is not one of instance, series,"
        " study, patient",
        "seeds/dicom_tags.csv line 9, column column_name: 'maker' is not the snake_case of the"
        " keyword: manufacturer",
        "seeds/dicom_tags.csv line 10, column pn_extra_components: PatientBirthDate has VR DA,"
        " not PN: no components",
        "seeds/dicom_tags.csv line 11, column pn_extra_components: phonetik: the components"
        " are ideographic and phonetic, separated by ';'",
        "seeds/dicom_tags.csv line 12, column tag: 00080060 is listed on line(s) 2 too",
        "seeds/dicom_tags.csv line 13, column tag: 'ZZZZ0000' is not 8 hex digits (group then"
        " element: 00080060)",
    ]


def test_a_header_without_a_column_is_named(tmp_path: Path) -> None:
    project = project_with_seed(tmp_path, "00080060,Modality,modality\n", "tag,keyword,column\n")
    assert problems(project) == [
        "seeds/dicom_tags.csv line 1, column level, column_name, pn_extra_components: missing"
        " from the header"
    ]


@pytest.mark.parametrize(
    ("keyword", "column"),
    [
        ("SOPInstanceUID", "sop_instance_uid"),
        ("PatientName", "patient_name"),
        ("ImageType", "image_type"),
        ("KVP", "kvp"),
        ("InstanceNumber", "instance_number"),
    ],
)
def test_snake_case_is_the_models(keyword: str, column: str) -> None:
    assert snake_case(keyword) == column
