"""Write seeds/dicom_privacy_profile.csv: DICOM PS3.15 Table E.1-1 as dicom-lake's actions.

The table's attributes and action codes come from dicom-anonymizer (BSD licence), which
tabulates the standard's edition 2026c; its VRs from seeds/dicom_dictionary.csv. Run from the
repository root:

    pip download dicom-anonymizer==2.1.0 --no-deps -d /tmp/anonymizer
    .venv/bin/python scripts/generate_privacy_profile.py /tmp/anonymizer/*.whl

The codes become actions of the Basic Application Level Confidentiality Profile with the Retain
Longitudinal Temporal Information with Modified Dates Option (PS3.15 E.3.6), as docs/privacy.md
explains: dates and times shift; UIDs (U) hash into 2.25; identifiers whose dummy value may be
a pseudonym (D, Z on PN, LO, SH, AE) hash; everything else (X, and Z/D on other VRs, sequences)
drops; every private attribute drops.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "seeds" / "dicom_privacy_profile.csv"
DICTIONARY = ROOT / "seeds" / "dicom_dictionary.csv"
EDITION = "dicomfields_2026c"
CODES = {
    "D_TAGS": "D",
    "Z_TAGS": "Z",
    "X_TAGS": "X",
    "U_TAGS": "U",
    "Z_D_TAGS": "Z/D",
    "X_Z_TAGS": "X/Z",
    "X_D_TAGS": "X/D",
    "X_Z_D_TAGS": "X/Z/D",
    "X_Z_U_STAR_TAGS": "X/Z/U*",
}
PSEUDONYM_VRS = {"PN", "LO", "SH", "AE"}
FIELDS = ["attribute", "keyword", "profile_action", "action"]


def action(code: str, vr: str) -> str:
    if vr in ("DA", "DT", "TM"):
        return "shift"
    if vr == "SQ":
        return "drop"
    if "U" in code and vr == "UI":
        return "hash"
    if not code.startswith("X") and vr in PSEUDONYM_VRS:
        return "hash"
    return "drop"


def attribute(entry: tuple[int, ...]) -> str:
    """A tag, or a pattern with x where the table's mask leaves digits open (50xxxxxx)."""
    if len(entry) == 2:
        return f"{entry[0]:04X}{entry[1]:04X}"
    group, element, group_mask, element_mask = entry
    digits = f"{group:04X}{element:04X}"
    mask = f"{group_mask:04X}{element_mask:04X}"
    return "".join(
        digit if open_ == "F" else "x" for digit, open_ in zip(digits, mask, strict=True)
    )


def rows(fields: object) -> list[dict[str, str]]:
    with DICTIONARY.open(newline="") as dictionary:
        known = {row["tag"]: row for row in csv.DictReader(dictionary)}
    written = {}
    for name, code in CODES.items():
        for entry in getattr(fields, name):
            tag = attribute(entry)
            entry_vr = known.get(tag, {}).get("vr", "")
            written[tag] = {
                "attribute": tag,
                "keyword": known.get(tag, {}).get("keyword", ""),
                "profile_action": code,
                "action": action(code, entry_vr.split(" or ")[0]),
            }
    private = {"attribute": "private", "keyword": "", "profile_action": "X", "action": "drop"}
    return [*sorted(written.values(), key=lambda row: row["attribute"]), private]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("wheel", type=Path, help="dicom-anonymizer's wheel")
    arguments = parser.parse_args()
    sys.path.insert(0, str(arguments.wheel))  # a wheel is a zip Python imports from
    module = __import__(
        f"dicomanonymizer.dicom_anonymization_databases.{EDITION}", fromlist=["D_TAGS"]
    )
    with OUTPUT.open("w", newline="") as output:
        writer = csv.DictWriter(output, FIELDS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows(module))


if __name__ == "__main__":
    main()
