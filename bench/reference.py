"""The reference: the `instance` mart written by hand as one DuckDB query, the speed the pipeline
is measured against (docs/benchmarks.md).

One statement: an aggregation of the landed Parquet's small columns keeps each instance's latest
event (where its newest extracted metadata is, and when its current incarnation began) and drops
the deleted ones; the landed documents are parsed once where they are read (`json_transform`
into a struct of the projected attributes' VR and values) and joined to it; the values are typed
by VR and the rows written with their metadata to zstd Parquet. Its columns
and types are the `instance` mart's, read from the same seeds (seeds/dicom_tags.csv and
seeds/dicom_dictionary.csv); `check` compares its output with the mart row for row.

What it leaves out, because the generated feed never needs it: lower-case tag keys, documents
that are not JSON objects, events with an unknown action or without a key, and the stricter
format checks of the models' typing (a malformed value the models null may be typed here).
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import duckdb

from extractor.build import project_dir

KEYS = ["partition_name", "study_instance_uid", "series_instance_uid", "sop_instance_uid"]
_LEVELS = {"patient": 1, "study": 2, "series": 3}
_INTEGER = {"IS", "SL", "SS", "UL", "US", "SV", "UV"}
_DECIMAL = {"DS", "FL", "FD"}
_TIME_FORMATS = "['%H%M%S.%f', '%H%M%S', '%H%M', '%H']"
_DATETIME_FORMATS = "['%Y%m%d%H%M%S.%f', '%Y%m%d%H%M%S', '%Y%m%d%H%M', '%Y%m%d%H', '%Y%m%d']"


@dataclass(frozen=True)
class Tag:
    tag: str
    column: str
    vr: str
    multi: bool
    pn_components: tuple[str, ...]


def projected_tags() -> list[Tag]:
    """The seed's projected attributes with the dictionary's VR and VM, in the mart's order."""
    seeds = project_dir() / "seeds"
    with (seeds / "dicom_dictionary.csv").open(newline="") as file:
        dictionary = {row["tag"]: row for row in csv.DictReader(file)}
    with (seeds / "dicom_tags.csv").open(newline="") as file:
        rows = list(csv.DictReader(file))
    rows.sort(key=lambda row: (_LEVELS.get(row["level"].lower(), 4), row["tag"].upper()))
    tags = []
    for row in rows:
        entry = dictionary.get(row["tag"].upper(), {})
        extras = [p.strip().lower() for p in (row["pn_extra_components"] or "").split(";")]
        tags.append(
            Tag(
                tag=row["tag"].upper(),
                column=row["column_name"],
                vr=(entry.get("vr") or "UN").split(" or ")[0].strip().upper(),
                multi=(entry.get("vm") or "1").strip() != "1",
                pn_components=(
                    "Alphabetic",
                    *(c.capitalize() for c in extras if c in ("ideographic", "phonetic")),
                ),
            )
        )
    return tags


def _typed(text: str, vr: str) -> str:
    """One value (text) typed by VR, null when it does not parse."""
    if vr == "DA":
        return f"cast(try_strptime({text}, '%Y%m%d') as date)"
    if vr == "TM":
        return f"cast(try_strptime(replace({text}, ':', ''), {_TIME_FORMATS}) as time)"
    if vr == "DT":
        stripped = f"regexp_replace({text}, '[+-][0-9]{{4}}$', '')"
        return f"try_strptime({stripped}, {_DATETIME_FORMATS})"
    if vr in _INTEGER:
        return f"try_cast(regexp_replace({text}, '[.]0*$', '') as bigint)"
    if vr in _DECIMAL:
        return f"try_cast({text} as double)"
    return text


def _columns(tags: list[Tag]) -> list[str]:
    """The typed select list: a value, or a list of values for a multi-valued attribute."""
    columns = []
    for tag in tags:
        if tag.column in KEYS:
            continue
        field = f'document."{tag.tag}"'
        for component in tag.pn_components if tag.vr == "PN" else ("",):
            extra = component not in ("", "Alphabetic")
            name = tag.column + (f"_{component.lower()}" if extra else "")
            if tag.vr == "PN":
                values = f"list_transform({field}.Value, lambda v: nullif(v.{component}, ''))"
            else:
                values = f"list_transform({field}.Value, lambda v: {_typed('v', tag.vr)})"
            value = values if tag.multi else f"{values}[1]"
            matching = f"({field}.vr is null or {field}.vr = '{tag.vr}')"
            columns.append(f'case when {matching} then {value} end as "{name}"')
    return columns


def _shape(tags: list[Tag]) -> str:
    """json_transform's structure: each attribute's VR and Value array, PN as its components."""
    shape: dict[str, object] = {}
    for tag in tags:
        value: object = {c: "VARCHAR" for c in tag.pn_components} if tag.vr == "PN" else "VARCHAR"
        shape[tag.tag] = {"vr": "VARCHAR", "Value": [value]}
    return json.dumps(shape)


def query(landed_glob: str, out: Path) -> str:
    """The one statement: read, keep the latest, parse once, type, write.

    The aggregation keeps small columns only and names the row holding the winning document
    (file and row number); the documents are parsed where they are read and joined to it, so no
    text goes through the aggregation or into a hash table."""
    keys = ", ".join(KEYS)
    shape = _shape(projected_tags()).replace("'", "''")
    typed = ",\n        ".join(_columns(projected_tags()))
    landed = f"read_parquet('{landed_glob}', filename = true, file_row_number = true)"
    newest = "(extracted_at, sequence)) filter (where metadata is not null)"
    return f"""
copy (
    with latest as (
        select
            {keys},
            max(sequence) as last_sequence,
            arg_max(action, sequence) as last_action,
            arg_max(timestamp, sequence) as last_modified,
            arg_max(file_path, sequence) as file_path,
            list({{'sequence': sequence, 'at': timestamp, 'delete': action = 'Delete'}})
                as events,
            arg_max({{'file': filename, 'row': file_row_number}}, {newest} as document_row,
            arg_max(sequence, {newest} as metadata_sequence,
            max(extracted_at) filter (where metadata is not null) as metadata_extracted_at
        from {landed}
        group by all
        having last_action != 'Delete'
    ),
    documents as (
        select filename, file_row_number, metadata, json_transform(metadata, '{shape}') as document
        from {landed}
        where metadata is not null
    ),
    present as (
        select
            latest.*,
            documents.metadata,
            documents.document,
            list_max(list_transform(list_filter(events, lambda e: e.delete), lambda e: e.sequence))
                as last_delete
        from latest
        left join documents
            on latest.document_row.file = documents.filename
            and latest.document_row.row = documents.file_row_number
    )
    select
        {keys},
        {typed},
        list_min(list_transform(
            list_filter(events, lambda e: e.sequence > coalesce(last_delete, -1)), lambda e: e.at
        )) as created_at,
        file_path,
        last_action,
        last_sequence,
        last_modified,
        metadata_sequence,
        metadata_extracted_at,
        metadata
    from present
) to '{out}' (format parquet, compression zstd)
"""


def mismatches(connection: duckdb.DuckDBPyConnection, warehouse: Path, out: Path) -> dict[str, int]:
    """Rows of the reference's output missing from the `instance` mart and the other way round,
    comparing every column; and how many columns' types differ."""
    connection.execute(f"attach '{warehouse}' as warehouse (read_only)")
    mart = "warehouse.main.instance"
    reference = f"read_parquet('{out}')"

    def schema(relation: str) -> list[tuple[str, str]]:
        sql = f"select column_name, column_type from (describe select * from {relation})"
        return [(str(name), str(kind)) for name, kind in connection.execute(sql).fetchall()]

    def count(sql: str) -> int:
        (value,) = connection.execute(sql).fetchone() or (0,)
        return int(value)

    mart_schema = schema(mart)
    # rows are compared by their keys and a hash of every column: sets of small rows, where
    # comparing the documents themselves would hold gigabytes of text at 1M instances
    columns = ", ".join(KEYS) + ", hash(" + ", ".join(f'"{n}"' for n, _ in mart_schema) + ")"
    differing = set(mart_schema) ^ set(schema(reference))
    counts = {"columns_of_other_types": len({name for name, _ in differing})}
    for label, left, right in (
        ("only_in_reference", reference, mart),
        ("only_in_mart", mart, reference),
    ):
        counts[label] = count(
            f"select count(*) from (select {columns} from {left}"
            f" except all select {columns} from {right})"
        )
    counts["reference_rows"] = count(f"select count(*) from {reference}")
    counts["mart_rows"] = count(f"select count(*) from {mart}")
    return counts
