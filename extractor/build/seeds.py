"""The projected attributes (`seeds/dicom_tags.csv`) checked before dbt starts.

A row the models cannot project would otherwise fail the build half-way, as a failing data test;
checked here, it stops the build before any model runs, named by its line, its column and the
reason, and the job exits with its configuration error code. The same rules guard a `dbt build`
run by hand: `tests/singular/assert_dicom_tags_seed_is_valid.sql`.
"""

from __future__ import annotations

import csv
import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

TAGS_SEED = Path("seeds") / "dicom_tags.csv"
DICTIONARY_SEED = Path("seeds") / "dicom_dictionary.csv"
_COLUMNS = ("tag", "keyword", "level", "column_name", "pn_extra_components")
_LEVELS = ("instance", "series", "study", "patient")
_PN_COMPONENTS = ("ideographic", "phonetic")
# VRs without a value a column can hold: sequences, bulk data, unknown bytes, attribute tags
_UNPROJECTABLE_VRS = {
    "SQ": "a sequence",
    "OB": "bulk data",
    "OD": "bulk data",
    "OF": "bulk data",
    "OL": "bulk data",
    "OV": "bulk data",
    "OW": "bulk data",
    "UN": "unknown bytes",
    "AT": "a list of attribute tags",
}


@dataclass(frozen=True)
class SeedProblem:
    """Why one row of the seed cannot be projected."""

    line: int  # the CSV file's line, the header being line 1
    column: str
    reason: str

    def __str__(self) -> str:
        return f"{TAGS_SEED} line {self.line}, column {self.column}: {self.reason}"


class SeedError(ValueError):
    """The seed of projected attributes holds rows that cannot be projected."""

    def __init__(self, problems: list[SeedProblem]) -> None:
        self.problems = problems
        super().__init__(
            f"{len(problems)} row(s) of {TAGS_SEED} cannot be projected; fix them and build "
            "again (docs/models.md, Projected attributes):\n"
            + "\n".join(f"  {problem}" for problem in problems)
        )


@dataclass(frozen=True)
class _Attribute:
    keyword: str
    vr: str


def check_projected_tags(project: Path) -> None:
    """Raise SeedError naming every row of the project's seed that cannot be projected."""
    problems = list(_problems(project / TAGS_SEED, _dictionary(project / DICTIONARY_SEED)))
    if problems:
        raise SeedError(problems)


def snake_case(keyword: str) -> str:
    """SOPInstanceUID -> sop_instance_uid, as the models' dicom_keyword_to_snake_case."""
    split = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", keyword)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", split).lower()


def _dictionary(path: Path) -> dict[str, _Attribute]:
    with path.open(newline="", encoding="utf-8") as file:
        return {row["tag"]: _Attribute(row["keyword"], row["vr"]) for row in csv.DictReader(file)}


def _problems(path: Path, dictionary: dict[str, _Attribute]) -> Iterator[SeedProblem]:
    with path.open(newline="", encoding="utf-8-sig") as file:
        reader = csv.DictReader(file)
        missing = [column for column in _COLUMNS if column not in (reader.fieldnames or [])]
        if missing:
            yield SeedProblem(1, ", ".join(missing), "missing from the header")
            return
        rows = [(reader.line_num, row) for row in reader]
    lines_of: dict[str, list[int]] = defaultdict(list)
    for line, row in rows:
        lines_of[(row["tag"] or "").strip().upper()].append(line)
    for line, row in rows:
        problem = _row_problem(row, dictionary)
        tag = (row["tag"] or "").strip().upper()
        if problem is None and len(lines_of[tag]) > 1:
            others = ", ".join(str(other) for other in lines_of[tag] if other != line)
            # a keyword names one tag, and a column name one keyword: a repeat is the tag's
            problem = "tag", f"{tag} is listed on line(s) {others} too"
        if problem is not None:
            yield SeedProblem(line, *problem)


def _row_problem(
    row: dict[str, str | None], dictionary: dict[str, _Attribute]
) -> tuple[str, str] | None:
    tag = (row["tag"] or "").strip().upper()
    keyword = (row["keyword"] or "").strip()
    if not re.fullmatch(r"[0-9A-F]{8}", tag):
        return "tag", f"{row['tag']!r} is not 8 hex digits (group then element: 00080060)"
    attribute = dictionary.get(tag)
    if attribute is None and int(tag[:4], 16) % 2:
        return "tag", (
            f"{tag} is a private attribute (odd group {tag[:4]}): private attributes are not "
            "in dicom_dictionary and cannot be projected as columns"
        )
    if attribute is None:
        return "tag", f"{tag} is not in dicom_dictionary"
    if keyword != attribute.keyword:
        return "keyword", f"{keyword!r} is not {tag}'s keyword: {attribute.keyword}"
    level = (row["level"] or "").strip().lower()
    if level not in _LEVELS:
        return "level", f"{row['level']!r} is not one of {', '.join(_LEVELS)}"
    if (row["column_name"] or "").strip() != snake_case(keyword):
        return "column_name", (
            f"{row['column_name']!r} is not the snake_case of the keyword: {snake_case(keyword)}"
        )
    kind = _UNPROJECTABLE_VRS.get(attribute.vr[:2])
    if kind is not None:
        return "tag", (
            f"{tag} ({keyword}) has VR {attribute.vr}, {kind}: it has no value a column can hold"
        )
    components = [part.strip().lower() for part in (row["pn_extra_components"] or "").split(";")]
    unknown = [part for part in components if part and part not in _PN_COMPONENTS]
    if unknown:
        return "pn_extra_components", (
            f"{', '.join(unknown)}: the components are {' and '.join(_PN_COMPONENTS)}, "
            "separated by ';'"
        )
    if any(components) and not attribute.vr.startswith("PN"):
        return "pn_extra_components", f"{keyword} has VR {attribute.vr}, not PN: no components"
    return None
