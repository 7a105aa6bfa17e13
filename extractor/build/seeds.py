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
# required: a seed written before paths and private attributes has no items, private_creator,
# vr and vm columns
_COLUMNS = ("tag", "keyword", "level", "column_name", "pn_extra_components")
_LEVELS = ("instance", "series", "study", "patient")
_PN_COMPONENTS = ("ideographic", "phonetic")
_ITEMS = ("first", "all")
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
_PROJECTABLE_VRS = (
    "AE",
    "AS",
    "CS",
    "DA",
    "DS",
    "DT",
    "FD",
    "FL",
    "IS",
    "LO",
    "LT",
    "PN",
    "SH",
    "SL",
    "SS",
    "ST",
    "SV",
    "TM",
    "UC",
    "UI",
    "UL",
    "UR",
    "US",
    "UT",
    "UV",
)
_PUBLIC_TAG = re.compile(r"[0-9A-F]{8}")
# (gggg,xxee): an odd group, the block left open as "xx", the element offset in the block
_PRIVATE_TAG = re.compile(r"([0-9A-F]{3}[13579BDF])xx([0-9A-F]{2})")
_VM = re.compile(r"[1-9][0-9]*(-([1-9][0-9]*)?n?)?")
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9]*")
_COLUMN_NAME = re.compile(r"[a-z][a-z0-9_]*")


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
        header = len(reader.fieldnames or [])
        rows = []
        for fields in reader:
            # DictReader files extra fields under None and fills missing ones with None
            width = len([k for k, value in fields.items() if k is not None and value is not None])
            width += len(fields.get(None) or [])  # type: ignore[call-overload]
            if width != header:
                yield SeedProblem(
                    reader.line_num,
                    "(all)",
                    f"{width} fields where the header has {header}: write a comma for each empty"
                    " column",
                )
            else:
                rows.append((reader.line_num, _Row.read(fields)))
    lines_of: dict[tuple[str, str], list[int]] = defaultdict(list)
    for line, row in rows:
        lines_of[("tag", row.identity)].append(line)
        lines_of[("column_name", row.column_name)].append(line)
    for line, row in rows:
        problem = _row_problem(row, dictionary)
        for column, value in (("tag", row.identity), ("column_name", row.column_name)):
            repeats = [other for other in lines_of[(column, value)] if other != line]
            if problem is None and repeats:
                others = ", ".join(str(other) for other in repeats)
                problem = column, f"{value} is listed on line(s) {others} too"
        if problem is not None:
            yield SeedProblem(line, *problem)


@dataclass(frozen=True)
class _Row:
    """One row of the seed, its texts trimmed (tag and VR upper case but a private tag's xx,
    level and items lower case)."""

    steps: tuple[str, ...]
    keyword: str
    level: str
    column_name: str
    pn_extra_components: str
    items: str
    private_creator: str
    vr: str
    vm: str

    @classmethod
    def read(cls, row: dict[str, str | None]) -> _Row:
        def text(column: str) -> str:
            return (row.get(column) or "").strip()

        return cls(
            steps=tuple(
                step.strip() for step in text("tag").upper().replace("XX", "xx").split(">")
            ),
            keyword=">".join(step.strip() for step in text("keyword").split(">")),
            level=text("level").lower(),
            column_name=text("column_name"),
            pn_extra_components=text("pn_extra_components"),
            items=text("items").lower(),
            private_creator=text("private_creator"),
            vr=text("vr").upper(),
            vm=text("vm"),
        )

    @property
    def tag(self) -> str:
        return ">".join(self.steps)

    @property
    def identity(self) -> str:
        """What two rows must not share: the tag, with its creator for a private one, and for a
        path the items it takes (the first and every item are two columns)."""
        if self.private_creator:
            return f"{self.tag} ({self.private_creator})"
        return f"{self.tag} (every item)" if self.items == "all" else self.tag


def _row_problem(row: _Row, dictionary: dict[str, _Attribute]) -> tuple[str, str] | None:
    if len(row.steps) == 1 and _PRIVATE_TAG.fullmatch(row.tag):
        problem = _private_problem(row)
        vr = row.vr
    else:
        problem = _public_problem(row, dictionary)
        vr = dictionary[row.steps[-1]].vr if problem is None else ""
    if problem is not None:
        return problem
    if row.level not in _LEVELS:
        return "level", f"{row.level!r} is not one of {', '.join(_LEVELS)}"
    components = [part.strip().lower() for part in row.pn_extra_components.split(";")]
    unknown = [part for part in components if part and part not in _PN_COMPONENTS]
    if unknown:
        return "pn_extra_components", (
            f"{', '.join(unknown)}: the components are {' and '.join(_PN_COMPONENTS)}, "
            "separated by ';'"
        )
    if any(components) and not vr.startswith("PN"):
        return "pn_extra_components", f"{row.keyword} has VR {vr}, not PN: no components"
    return None


def _public_problem(row: _Row, dictionary: dict[str, _Attribute]) -> tuple[str, str] | None:
    """A tag or a path of tags through sequences, typed by the dictionary."""
    for step in row.steps:
        if len(row.steps) > 1 and _PRIVATE_TAG.fullmatch(step):
            return "tag", (
                f"{step} is a private attribute inside a sequence: private attributes are read"
                " at the top level of the document only"
            )
        if not _PUBLIC_TAG.fullmatch(step):
            return "tag", (
                f"{step!r} is not a tag: 8 hex digits (00080060), a path of tags joined by"
                " '>' (00082218>00080104) or a private attribute (0019xx0A)"
            )
        if step not in dictionary and int(step[:4], 16) % 2:
            return "tag", (
                f"{step} is a private attribute (odd group {step[:4]}): name it by its block's"
                f" private creator, as {step[:4]}xx{step[6:]} with the creator in"
                " private_creator and its VR in vr, at the top level of the document"
            )
        if step not in dictionary:
            return "tag", f"{step} is not in dicom_dictionary"
    attributes = [dictionary[step] for step in row.steps]
    expected = ">".join(attribute.keyword for attribute in attributes)
    if row.keyword != expected:
        return "keyword", f"{row.keyword!r} is not {row.tag}'s keyword: {expected}"
    for step, attribute in zip(row.steps[:-1], attributes, strict=False):
        if not attribute.vr.startswith("SQ"):
            return "tag", (
                f"{step} ({attribute.keyword}) has VR {attribute.vr}, not SQ: only the last tag"
                " of a path is an attribute, the others are sequences"
            )
    leaf = attributes[-1]
    kind = _UNPROJECTABLE_VRS.get(leaf.vr[:2])
    if kind is not None:
        return "tag", (
            f"{row.steps[-1]} ({leaf.keyword}) has VR {leaf.vr}, {kind}: it has no value a"
            " column can hold"
            + (
                " (name an attribute inside its items with a path: A>B)"
                if kind == "a sequence"
                else ""
            )
        )
    if len(row.steps) == 1:
        if row.column_name != snake_case(row.keyword):
            return "column_name", (
                f"{row.column_name!r} is not the snake_case of the keyword:"
                f" {snake_case(row.keyword)}"
            )
        if row.items:
            return "items", "items is for a path through sequences (A>B): leave it empty"
    elif not _COLUMN_NAME.fullmatch(row.column_name):
        return "column_name", _COLUMN_NAME_REASON.format(row.column_name)
    elif row.items and row.items not in _ITEMS:
        return "items", f"{row.items!r} is not one of {', '.join(_ITEMS)} (first by default)"
    for column in ("private_creator", "vr", "vm"):
        if getattr(row, column):
            return (
                column,
                f"{column} is for a private attribute (0019xx0A) only: {row.tag} is typed by"
                " the dictionary",
            )
    return None


_COLUMN_NAME_REASON = "{!r} is not a column name: lower-case letters, digits and _, a letter first"


def _private_problem(row: _Row) -> tuple[str, str] | None:
    """A private attribute: its group, creator and element offset, typed by the seed."""
    if not row.private_creator:
        return "private_creator", (
            f"{row.tag} is a private attribute: private_creator must name its block's creator"
        )
    if not _NAME.fullmatch(row.keyword):
        return "keyword", (
            f"{row.keyword!r} is not a name for a private attribute: letters and digits, a letter"
            " first"
        )
    if not _COLUMN_NAME.fullmatch(row.column_name):
        return "column_name", _COLUMN_NAME_REASON.format(row.column_name)
    if row.vr not in _PROJECTABLE_VRS:
        return "vr", (
            f"{row.vr!r} is not a VR a column can hold: a private attribute needs one of"
            f" {', '.join(_PROJECTABLE_VRS)}"
        )
    if row.vm and not _VM.fullmatch(row.vm):
        return "vm", f"{row.vm!r} is not a value multiplicity (1, 2, 1-n; 1 when empty)"
    if row.items:
        return "items", "items is for a path through sequences (A>B): leave it empty"
    return None
