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
        "seeds/dicom_tags.csv line 3, column tag: '0008' is not a tag: 8 hex digits (00080060),"
        " a path of tags joined by '>' (00082218>00080104) or a private attribute (0019xx0A)",
        "seeds/dicom_tags.csv line 4, column tag: 00091001 is a private attribute (odd group"
        " 0009): name it by its block's private creator, as 0009xx01 with the creator in"
        " private_creator and its VR in vr, at the top level of the document",
        "seeds/dicom_tags.csv line 5, column tag: 00081110 (ReferencedStudySequence) has VR SQ,"
        " a sequence: it has no value a column can hold (name an attribute inside its items"
        " with a path: A>B)",
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
        "seeds/dicom_tags.csv line 13, column tag: 'ZZZZ0000' is not a tag: 8 hex digits"
        " (00080060), a path of tags joined by '>' (00082218>00080104) or a private attribute"
        " (0019xx0A)",
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


FULL_HEADER = "tag,keyword,level,column_name,pn_extra_components,items,private_creator,vr,vm\n"


def test_paths_and_private_attributes_are_accepted(tmp_path: Path) -> None:
    rows = (
        "00082218>00080104,AnatomicRegionSequence>CodeMeaning,series,anatomic_region,,,,,\n"
        "00082218 > 00080100,AnatomicRegionSequence > CodeValue,series,anatomic_codes,,all,,,\n"
        "00082218>00080100,AnatomicRegionSequence>CodeValue,series,anatomic_code,,first,,,\n"
        "52009229>00289110>00280030,SharedFunctionalGroupsSequence>PixelMeasuresSequence>"
        "PixelSpacing,instance,shared_pixel_spacing,,,,,\n"
        "0019xx0A,NumberOfSlices,instance,siemens_slices,,,SIEMENS MR HEADER,US,\n"
        "0029XX10,CsaSeries,series,csa_series,,,SIEMENS CSA HEADER,LO,1-n\n"
        "0029xx10,CsaOther,series,csa_other,,,OTHER CREATOR,LO,\n"  # another creator's block
        "00100010,PatientName,patient,patient_name,phonetic,,,,\n"
    )
    check_projected_tags(project_with_seed(tmp_path, rows, FULL_HEADER))


def test_each_bad_path_or_private_row_is_named(tmp_path: Path) -> None:
    rows = (
        "00080060>00080104,Modality>CodeMeaning,series,modality_meaning,,,,,\n"
        "00082218>00080104,AnatomicRegionSequence>CodeValue,series,anatomic_region,,,,,\n"
        "00082218>00081110,AnatomicRegionSequence>ReferencedStudySequence,series,refs,,,,,\n"
        "00082218>00080104,AnatomicRegionSequence>CodeMeaning,series,Anatomic Region,,,,,\n"
        "00082218>00080104,AnatomicRegionSequence>CodeMeaning,series,region,,every,,,\n"
        "00080060,Modality,series,modality,,all,,,\n"
        "00080070,Manufacturer,series,manufacturer,,,ACME,,\n"
        "0019xx0A,NumberOfSlices,instance,slices,,,,US,\n"
        "0019xx0A,Number of slices,instance,slices,,,SIEMENS MR HEADER,US,\n"
        "0019xx0A,NumberOfSlices,instance,slices,,,SIEMENS MR HEADER,SQ,\n"
        "0019xx0A,NumberOfSlices,instance,slices,,,SIEMENS MR HEADER,US,many\n"
        "0019xx0B,SliceCount,instance,slice_count,,,SIEMENS MR HEADER,US,\n"
        "0019xx0B,SliceTotal,instance,slice_count,,,SIEMENS MR HEADER,US,\n"
        "00082218>0019xx0A,AnatomicRegionSequence>Slices,series,region_slices,,,SIEMENS,US,\n"
    )
    project = project_with_seed(tmp_path, rows, FULL_HEADER)

    assert problems(project) == [
        "seeds/dicom_tags.csv line 2, column tag: 00080060 (Modality) has VR CS, not SQ: only"
        " the last tag of a path is an attribute, the others are sequences",
        "seeds/dicom_tags.csv line 3, column keyword: 'AnatomicRegionSequence>CodeValue' is not"
        " 00082218>00080104's keyword: AnatomicRegionSequence>CodeMeaning",
        "seeds/dicom_tags.csv line 4, column tag: 00081110 (ReferencedStudySequence) has VR SQ,"
        " a sequence: it has no value a column can hold (name an attribute inside its items"
        " with a path: A>B)",
        "seeds/dicom_tags.csv line 5, column column_name: 'Anatomic Region' is not a column"
        " name: lower-case letters, digits and _, a letter first",
        "seeds/dicom_tags.csv line 6, column items: 'every' is not one of first, all (first by"
        " default)",
        "seeds/dicom_tags.csv line 7, column items: items is for a path through sequences (A>B):"
        " leave it empty",
        "seeds/dicom_tags.csv line 8, column private_creator: private_creator is for a private"
        " attribute (0019xx0A) only: 00080070 is typed by the dictionary",
        "seeds/dicom_tags.csv line 9, column private_creator: 0019xx0A is a private attribute:"
        " private_creator must name its block's creator",
        "seeds/dicom_tags.csv line 10, column keyword: 'Number of slices' is not a name for a"
        " private attribute: letters and digits, a letter first",
        "seeds/dicom_tags.csv line 11, column vr: 'SQ' is not a VR a column can hold: a private"
        " attribute needs one of AE, AS, CS, DA, DS, DT, FD, FL, IS, LO, LT, PN, SH, SL, SS, ST,"
        " SV, TM, UC, UI, UL, UR, US, UT, UV",
        "seeds/dicom_tags.csv line 12, column vm: 'many' is not a value multiplicity (1, 2, 1-n;"
        " 1 when empty)",
        "seeds/dicom_tags.csv line 13, column tag: 0019xx0B (SIEMENS MR HEADER) is listed on"
        " line(s) 14 too",
        "seeds/dicom_tags.csv line 14, column tag: 0019xx0B (SIEMENS MR HEADER) is listed on"
        " line(s) 13 too",
        "seeds/dicom_tags.csv line 15, column tag: 0019xx0A is a private attribute inside a"
        " sequence: private attributes are read at the top level of the document only",
    ]


def test_a_row_with_too_few_or_too_many_fields_is_named(tmp_path: Path) -> None:
    rows = (
        "00080060,Modality,series,modality,\n"  # the five columns of a seed before paths
        "00080070,Manufacturer,series,manufacturer,,,,,\n"
        "00080080,InstitutionName,series,institution_name,,,,,,,\n"
    )
    assert problems(project_with_seed(tmp_path, rows, FULL_HEADER)) == [
        "seeds/dicom_tags.csv line 2, column (all): 5 fields where the header has 9: write a"
        " comma for each empty column",
        "seeds/dicom_tags.csv line 4, column (all): 11 fields where the header has 9: write a"
        " comma for each empty column",
    ]


def test_a_seed_without_the_optional_columns_is_valid(tmp_path: Path) -> None:
    check_projected_tags(project_with_seed(tmp_path, "00080060,Modality,series,modality,\n"))
