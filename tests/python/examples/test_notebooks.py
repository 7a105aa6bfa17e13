"""The example notebooks: the local one runs, cell by cell, against the demo lake; both are what
scripts/generate_example_notebooks.py writes, so the DuckDB and Spark SQL steps stay the same."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
GENERATOR = EXAMPLES.parent / "scripts" / "generate_example_notebooks.py"


def generator() -> Any:
    spec = importlib.util.spec_from_file_location("generate_example_notebooks", GENERATOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_the_local_notebook_runs_against_the_demo_lake(
    demo, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DICOM_LAKE_DIR", str(demo["lake"]))
    notebook = nbformat.read(EXAMPLES / "local_duckdb.ipynb", as_version=4)
    # a failing cell raises CellExecutionError, naming the cell
    NotebookClient(
        notebook,
        timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(EXAMPLES)}},
    ).execute()
    shown = [
        "".join(output.get("data", {}).get("text/plain", "") for output in cell.outputs)
        for cell in notebook.cells
        if cell.cell_type == "code"
    ]
    assert all(text for text in shown[1:]), "every query cell shows a table"
    assert "modality" in shown[1] and "CT" in shown[1]
    assert "as_of_sequence" in shown[-1]


def test_the_notebooks_are_the_generators(tmp_path: Path) -> None:
    for written in generator().write(tmp_path):
        assert written.read_text() == (EXAMPLES / written.name).read_text(), written.name


def test_both_notebooks_ask_the_same_questions() -> None:
    def titles(name: str) -> list[str]:
        notebook = nbformat.read(EXAMPLES / name, as_version=4)
        return [
            cell.source.splitlines()[0] for cell in notebook.cells if cell.cell_type == "markdown"
        ][1:]

    assert titles("local_duckdb.ipynb") == titles("spark_sql.ipynb")
    assert len(titles("spark_sql.ipynb")) == 5
