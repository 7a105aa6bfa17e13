"""The DuckDB range pyproject.toml allows is the one whose warehouse files analysts can open.

A warehouse written by DuckDB 2 cannot be opened by DuckDB 1.x: a range spanning both majors
would let one install write what another cannot read. The 1.x here is the readers' environment
(tests/python/support/readers.py), a real DuckDB 1.5.
"""

from __future__ import annotations

import subprocess
import tomllib
from pathlib import Path

import duckdb
from packaging.requirements import Requirement
from support import REPOSITORY
from support.readers import readers_python


def duckdb_requirement() -> Requirement:
    project = tomllib.loads((REPOSITORY / "pyproject.toml").read_text())
    (found,) = [
        Requirement(text)
        for text in project["project"]["dependencies"]
        if Requirement(text).name == "duckdb"
    ]
    return found


def test_the_pin_spans_one_major_the_installed_duckdb_within_it() -> None:
    specifier = duckdb_requirement().specifier
    assert specifier.contains(duckdb.__version__)
    major = int(duckdb.__version__.split(".")[0])
    assert not specifier.contains(f"{major - 1}.99") and not specifier.contains(f"{major + 1}.0")


def test_a_warehouse_this_duckdb_writes_is_refused_by_duckdb_1(tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(warehouse)) as connection:
        connection.execute("create table instance as select 1 as instance_number")
    opened = subprocess.run(
        [str(readers_python()), "-c", f"import duckdb; duckdb.connect({str(warehouse)!r})"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert opened.returncode != 0 and "newer version of DuckDB" in opened.stderr
    assert not duckdb_requirement().specifier.contains("1.5.5")
