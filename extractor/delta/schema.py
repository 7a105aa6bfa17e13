"""The marts as Delta sees them: the published tables, their keys, columns and Delta types.

The keys are the dbt project's (`mart_keys` and `adf_keys` in dbt_project.yml). Delta has no
time-of-day type: DuckDB TIME columns are published as ISO-8601 text ("14:30:05",
"14:30:05.25"); other types without a Delta counterpart become text or decimals too.

A *profile*, chosen when a table is created, says which Delta types the rest become (the table's
schema shows it, and a later publication with the other profile is refused: see
`profile_mismatch`):
- `standard`: DuckDB's own. A multi-valued attribute is an array; a DT (local time, no zone) is a
  `timestamp_ntz`.
- `fabric`: what the Fabric Lakehouse SQL analytics endpoint and Direct Lake can show, which
  leave out arrays, maps, structs and `timestamp_ntz` columns: each array, map or struct column
  also comes as `<column>_json`, its JSON text (T-SQL's OPENJSON reads it), and a DT becomes a
  `timestamp` whose UTC reading is the local time as written.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import duckdb
import pyarrow as pa

from extractor.build import adf_keys, mart_keys

TABLE_KEYS: dict[str, tuple[str, ...]] = mart_keys()
"""Key columns of each published mart, in publication order."""
TABLES: tuple[str, ...] = tuple(TABLE_KEYS)
INSTANCE_KEY = TABLE_KEYS["instance"]


class DeltaProfile(StrEnum):
    standard = "standard"
    fabric = "fabric"


JSON_SUFFIX = "_json"


@dataclass(frozen=True)
class PublishedTable:
    """One Delta table: where it goes under the Delta URI, the relation it publishes, its key.

    `follows` names the native mart whose changes this table takes over (the ADF template's
    tables follow the marts they are views of); a native mart follows none.
    """

    name: str
    mart: str
    keys: tuple[str, ...]
    follows: str | None = None

    @property
    def study(self) -> tuple[str, str]:
        """The partition and study UID columns: every key starts with them."""
        return self.keys[0], self.keys[1]

    @property
    def profiled(self) -> bool:
        """Whether the publication profile applies (the ADF tables keep the template's types)."""
        return self.follows is None


NATIVE_TABLES: dict[str, PublishedTable] = {
    table: PublishedTable(table, table, keys) for table, keys in TABLE_KEYS.items()
}
ADF_TABLES: dict[str, PublishedTable] = {
    table: PublishedTable(f"adf/{table}", f"adf_{table}", keys, follows=table)
    for table, keys in adf_keys().items()
}
"""The ADF template's tables, by the native mart each one follows."""

_AS_TEXT_TYPES = ("TIME", "TIME WITH TIME ZONE", "TIMETZ", "UUID", "INTERVAL", "BIT")
_AS_DECIMAL_TYPES = ("HUGEINT", "UHUGEINT")
_NESTED_PREFIXES = ("STRUCT(", "MAP(", "UNION(")


def mart_columns(connection: duckdb.DuckDBPyConnection, table: str) -> list[tuple[str, str]]:
    rows = connection.execute(
        "select column_name, data_type from information_schema.columns"
        " where table_schema = 'main' and table_name = ? order by ordinal_position",
        [table],
    ).fetchall()
    if not rows:
        raise ValueError(f"mart main.{table} does not exist in the warehouse")
    return [(str(name), str(type_)) for name, type_ in rows]


def check_keys(connection: duckdb.DuckDBPyConnection, table: str, keys: tuple[str, ...]) -> None:
    # A null key never matches in MERGE, so it would be inserted again on every run.
    condition = " or ".join(f"{quote(key)} is null" for key in keys)
    rows = connection.execute(f"select count(*) from main.{table} where {condition}").fetchall()
    if rows[0][0]:
        raise ValueError(f"main.{table} has {rows[0][0]} rows with a null key: cannot publish")


def export_list(
    columns: list[tuple[str, str]], profile: DeltaProfile = DeltaProfile.standard
) -> str:
    """The select list that reads a mart's columns in their Delta types, under `profile`."""
    names = {name for name, _ in columns}
    items: list[str] = []
    for name, type_ in columns:
        expression = _in_delta_type(quote(name), type_, profile)
        items.append(expression if expression == quote(name) else f"{expression} as {quote(name)}")
        if profile is DeltaProfile.fabric and _is_nested(type_):
            companion = name + JSON_SUFFIX
            if companion in names:
                raise ValueError(f"column {companion} exists: cannot add the JSON text of {name}")
            # from the mart's value: a DT's JSON text is the local time as written, no zone
            items.append(f"cast(to_json({quote(name)}) as varchar) as {quote(companion)}")
    return ", ".join(items)


def _in_delta_type(quoted: str, type_: str, profile: DeltaProfile) -> str:
    element, dimensions = _element_type(type_.upper())
    if element in _AS_TEXT_TYPES:
        target = "varchar"
    elif element in _AS_DECIMAL_TYPES:
        target = "decimal(38, 0)"
    elif element == "TIMESTAMP" and profile is DeltaProfile.fabric:
        target = "timestamptz"  # the session zone is UTC: the wall clock reads as UTC
    else:
        return quoted
    return f"cast({quoted} as {target}{'[]' * dimensions})"


def _element_type(type_: str) -> tuple[str, int]:
    """`VARCHAR[][]` -> (`VARCHAR`, 2): a list type's element and its number of dimensions."""
    dimensions = 0
    while type_.endswith("[]"):
        type_, dimensions = type_[:-2], dimensions + 1
    return type_, dimensions


def _is_nested(type_: str) -> bool:
    return type_.endswith("]") or type_.upper().startswith(_NESTED_PREFIXES)


def profile_mismatch(schema: pa.Schema, profile: DeltaProfile) -> DeltaProfile | None:
    """The other profile, when a published table's schema shows it was created with that one.

    Under `fabric` every nested column has its `_json` companion and no timestamp lacks a
    zone; under `standard` no nested column has one. A table with neither kind of column reads
    the same under both.
    """
    nested = [field.name for field in schema if pa.types.is_nested(field.type)]
    companions = [name for name in nested if name + JSON_SUFFIX in schema.names]
    if profile is DeltaProfile.standard and companions:
        return DeltaProfile.fabric
    without_zone = any(
        pa.types.is_timestamp(field.type) and field.type.tz is None for field in schema
    )
    if profile is DeltaProfile.fabric and (len(companions) < len(nested) or without_zone):
        return DeltaProfile.standard
    return None


def quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"
