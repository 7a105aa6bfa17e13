"""Reading the lake back for tests: the DuckDB marts and the Delta tables, row for row."""

from __future__ import annotations

import shutil
from datetime import time
from pathlib import Path
from typing import Any

import duckdb
from deltalake import DeltaTable

from extractor.build import project_dir
from extractor.delta import TABLE_KEYS, TABLES
from extractor.lake import Lake


def _sorted(rows: list[dict[str, Any]], table: str) -> list[dict[str, Any]]:
    keys = TABLE_KEYS[table]
    return sorted(rows, key=lambda row: tuple(row[key] for key in keys))


def mart_rows(lake_dir: Path, table: str) -> list[dict[str, Any]]:
    """A mart as Delta should hold it: TIME as ISO text (Delta has no time type), UTC times."""
    with duckdb.connect(str(Lake(lake_dir).warehouse), read_only=True) as connection:
        connection.execute("set TimeZone = 'UTC'")
        rows = connection.sql(f"select * from main.{table}").to_arrow_table().to_pylist()
    for row in rows:
        for name, value in row.items():
            if isinstance(value, time):
                text = value.isoformat()  # DuckDB writes 12:00:00 and 08:01:05.25
                row[name] = text.rstrip("0").rstrip(".") if "." in text else text
    return _sorted(rows, table)


def delta_rows(uri: str, version: int | None = None, **options: Any) -> list[dict[str, Any]]:
    table = DeltaTable(uri, version=version, storage_options=options.get("storage_options"))
    return _sorted(table.to_pyarrow_table().to_pylist(), uri.rsplit("/", 1)[-1])


def assert_delta_matches_marts(lake_dir: Path, delta_uri: str, **options: Any) -> None:
    """Each of the four Delta tables holds exactly its mart's rows."""
    for table in TABLES:
        expected = mart_rows(lake_dir, table)
        actual = delta_rows(f"{delta_uri}/{table}", **options)
        assert len(actual) == len(expected), table
        assert actual == expected, table


def copy_project(destination: Path) -> Path:
    """A copy of the dbt project that a test may edit (its seeds, say) without touching ours."""
    project = destination / "project"
    project.mkdir()
    for name in ["dbt_project.yml", "profiles.example.yml"]:
        shutil.copy(project_dir() / name, project / name)
    for folder in ["models", "macros", "seeds"]:
        shutil.copytree(project_dir() / folder, project / folder)
    shutil.copytree(
        project_dir() / "tests", project / "tests", ignore=shutil.ignore_patterns("python")
    )
    return project
