"""The marts as Delta sees them: their keys, their columns, and the types Delta lacks.

The keys are the dbt project's (`mart_keys` in dbt_project.yml). Delta has no time-of-day type:
DuckDB TIME columns are published as ISO-8601 text ("14:30:05", "14:30:05.25"); other types
without a Delta counterpart become text or decimals too.
"""

from __future__ import annotations

import duckdb

from extractor.build import mart_keys

TABLE_KEYS: dict[str, tuple[str, ...]] = mart_keys()
"""Key columns of each published mart, in publication order."""
TABLES: tuple[str, ...] = tuple(TABLE_KEYS)
INSTANCE_KEY = TABLE_KEYS["instance"]

_AS_TEXT_TYPES = ("TIME", "TIME WITH TIME ZONE", "TIMETZ", "UUID", "INTERVAL", "BIT")
_AS_DECIMAL_TYPES = ("HUGEINT", "UHUGEINT")


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


def export_expression(name: str, type_: str) -> str:
    quoted = quote(name)
    if type_.upper() in _AS_TEXT_TYPES:
        return f"cast({quoted} as varchar) as {quoted}"
    if type_.upper() in _AS_DECIMAL_TYPES:
        return f"cast({quoted} as decimal(38, 0)) as {quoted}"
    return quoted


def export_list(columns: list[tuple[str, str]]) -> str:
    """The select list that reads a mart's columns in their Delta types."""
    return ", ".join(export_expression(name, type_) for name, type_ in columns)


def quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"
