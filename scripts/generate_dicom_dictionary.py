"""Write seeds/dicom_dictionary.csv from pydicom's DICOM data dictionary.

Run from the repository root after upgrading pydicom:

    .venv/bin/python scripts/generate_dicom_dictionary.py

Only tags with a fixed group and element are written (repeating-group entries such as
``60xx3000`` are skipped); retired attributes are kept and flagged.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

from pydicom import __version__ as pydicom_version
from pydicom.datadict import DicomDictionary

DEFAULT_OUTPUT = Path(__file__).resolve().parent.parent / "seeds" / "dicom_dictionary.csv"
FIELDS = ["tag", "keyword", "vr", "vm", "name", "is_retired"]


def dictionary_rows() -> list[dict[str, str]]:
    rows = []
    for tag, (vr, vm, name, retired, keyword) in sorted(DicomDictionary.items()):
        if not keyword:
            continue
        rows.append(
            {
                "tag": f"{tag:08X}",
                "keyword": keyword,
                "vr": vr,
                "vm": vm,
                "name": name,
                "is_retired": "true" if retired else "false",
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    arguments = parser.parse_args()
    rows = dictionary_rows()
    with arguments.output.open("w", newline="", encoding="utf-8") as sink:
        writer = csv.DictWriter(sink, fieldnames=FIELDS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {len(rows)} attributes from pydicom {pydicom_version} to {arguments.output}")


if __name__ == "__main__":
    main()
