"""A projection scenario beyond the top level, for the model and the cross-engine tests: seed
rows for paths through sequences (first item, every item) and private attributes, and two
documents whose private blocks lie at different block numbers."""

from __future__ import annotations

from support.feed_events import metadata

SEED_ROWS = (
    "00082218>00080104,AnatomicRegionSequence>CodeMeaning,series,anatomic_region,,,,,\n"
    "00082218>00080100,AnatomicRegionSequence>CodeValue,series,anatomic_region_codes,,all,,,\n"
    "52009229>00289110>00280030,SharedFunctionalGroupsSequence>PixelMeasuresSequence>"
    "PixelSpacing,instance,shared_pixel_spacing,,,,,\n"
    "52009230>00289110>00180050,PerFrameFunctionalGroupsSequence>PixelMeasuresSequence>"
    "SliceThickness,instance,frame_slice_thicknesses,,all,,,\n"
    "0019xx0A,NumberOfSlices,instance,siemens_number_of_slices,,,SIEMENS MR HEADER,US,\n"
    "0019xx0B,SliceDuration,instance,siemens_slice_duration,,,SIEMENS MR HEADER,DS,\n"
    # a group with letters, a creator with regular-expression and SQL-quote characters
    "7FD1xx10,ScanMode,instance,acme_scan_mode,,,ACME (v2.0) [O'Neil]+,CS,\n"
)


def code(value: str, meaning: str) -> dict[str, object]:
    return {
        "00080100": {"vr": "SH", "Value": [value]},
        "00080104": {"vr": "LO", "Value": [meaning]},
    }


def pixel_measures(**attributes: object) -> dict[str, object]:
    return {"00289110": {"vr": "SQ", "Value": [attributes]}}


def creator(name: str) -> dict[str, object]:
    return {"vr": "LO", "Value": [name]}


# The creator's block is 10 in a, 12 in b; another creator's block holds the same offsets.
def document_a(sop: str = "a") -> str:
    return metadata(
        sop,
        **{
            "00082218": {
                "vr": "SQ",
                "Value": [code("T-D3000", "Chest"), code("T-D4000", "Abdomen")],
            },
            "52009229": {
                "vr": "SQ",
                "Value": [pixel_measures(**{"00280030": {"vr": "DS", "Value": [0.5, "0.5"]}})],
            },
            "52009230": {
                "vr": "SQ",
                "Value": [
                    pixel_measures(**{"00180050": {"vr": "DS", "Value": ["1.25"]}}),
                    pixel_measures(**{"00180050": {"vr": "DS", "Value": [1.5]}}),
                    pixel_measures(**{"00180050": {"vr": "DS", "Value": ["thick"]}}),
                ],
            },
            "00190010": creator("SIEMENS MR HEADER"),
            "00190011": creator("OTHER VENDOR"),
            "0019100A": {"vr": "US", "Value": [36]},
            "0019100B": {"vr": "DS", "Value": ["12.5"]},
            "0019110A": {"vr": "US", "Value": [99]},
        },
    )


def document_b(sop: str = "b") -> str:
    return metadata(
        sop,
        **{
            "00082218": {"vr": "SQ", "Value": [code("T-D3000", "Chest")]},
            "00190010": creator("OTHER VENDOR"),
            "00190012": creator("SIEMENS MR HEADER "),  # padded to even length, as DICOM does
            "0019100A": {"vr": "US", "Value": [7]},
            "0019120A": {"vr": "US", "Value": [48]},
            "7FD10011": creator("ACME (v2.0) [O'Neil]+"),
            "7FD11110": {"vr": "CS", "Value": ["HELICAL"]},
        },
    )


DOCUMENT_A, DOCUMENT_B = document_a(), document_b()
COLUMNS = (
    "anatomic_region, anatomic_region_codes, shared_pixel_spacing, frame_slice_thicknesses,"
    " siemens_number_of_slices, siemens_slice_duration, acme_scan_mode"
)
EXPECTED = [
    ("a", "Chest", ["T-D3000", "T-D4000"], [0.5, 0.5], [1.25, 1.5, None], 36, 12.5, None),
    ("b", "Chest", ["T-D3000"], None, None, 48, None, "HELICAL"),
]
