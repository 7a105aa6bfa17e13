"""An independent Delta reader: DuckDB's delta extension, built on delta-kernel-rs.

delta-rs (`deltalake`) writes the tables, so reading them back with it alone cannot show a table
other readers refuse. The extension comes from PyPI as `duckdb-extension-delta`, pinned to a
DuckDB (1.5.5) other than the project's, so it lives in its own virtual environment,
`.venv-readers/` at the repository root: created on first use, kept for the next runs.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from functools import cache
from pathlib import Path
from typing import Any

from support import REPOSITORY

READERS_VENV = REPOSITORY / ".venv-readers"
_REQUIREMENTS = ("duckdb==1.5.5", "duckdb-extension-delta==1.5.5")
_MARKER = READERS_VENV / ".installed"

# Runs in the readers' environment: `views` maps a view name to a Delta table's URI; prints
# the rows of `query` as JSON (DuckDB's own rendering of every value), or the reader's error.
_READ = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    import duckdb, duckdb_extension_delta
    views, query = json.loads(sys.argv[1]), sys.argv[2]
    extension = next(Path(duckdb_extension_delta.__file__).parent.rglob("delta.duckdb_extension"))
    connection = duckdb.connect()
    connection.execute("set TimeZone = 'UTC'")
    connection.execute(f"load '{extension}'")
    try:
        for name, uri in views.items():
            connection.execute(f"create view {name} as select * from delta_scan('{uri}')")
        rows = connection.sql(f"select cast(to_json(q) as varchar) from ({query}) as q").fetchall()
        print(json.dumps({"rows": [json.loads(row) for (row,) in rows]}))
    except duckdb.Error as error:
        print(json.dumps({"error": str(error)}))
    finally:
        connection.close()
    """
)


class ReaderRefused(AssertionError):
    """The independent reader refused a table."""


@cache
def readers_python() -> Path:
    """The Python of `.venv-readers/`, made (with pip, from PyPI) if it is missing or stale."""
    python = READERS_VENV / "bin" / "python"
    wanted = "\n".join(_REQUIREMENTS)
    if _MARKER.exists() and _MARKER.read_text() == wanted and python.exists():
        return python
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(READERS_VENV)], check=True)
    pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, *_REQUIREMENTS], check=True)
    _MARKER.write_text(wanted)
    return python


def kernel_query(views: dict[str, str], query: str) -> list[dict[str, Any]]:
    """The rows of `query` over Delta tables (view name -> URI), read by delta-kernel-rs."""
    result = subprocess.run(
        [str(readers_python()), "-c", _READ, json.dumps(views), query],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    answer = json.loads(result.stdout)
    if "error" in answer:
        raise ReaderRefused(answer["error"])
    rows: list[dict[str, Any]] = answer["rows"]
    return rows


def kernel_rows(uri: str) -> list[dict[str, Any]]:
    """Every row of one Delta table, as the delta extension reads it."""
    return kernel_query({"t": uri}, "select * from t")
