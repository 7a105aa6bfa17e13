"""`pip install` of the built wheel gives a working `dicom-lake`, with no source tree around.

The wheel is built from this checkout, installed with its dependencies into a new virtual
environment outside the repository (pip's cache makes the second run quick), and its
`dicom-lake demo` runs from another directory: the bundled dbt project must come from the wheel.
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest
from support import REPOSITORY

INSTALL_TIMEOUT = 900


def run(command: list[str], cwd: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    # Nothing of the checkout's environment may leak in: no PYTHONPATH, no DBT_PROFILES_DIR.
    environment = {
        name: value
        for name, value in os.environ.items()
        if name not in {"PYTHONPATH", "DBT_PROFILES_DIR", "VIRTUAL_ENV"}
    }
    result = subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=environment
    )
    assert result.returncode == 0, f"{command}\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}"
    return result


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    pip = [sys.executable, "-m", "pip"]
    run([*pip, "wheel", "--no-deps", "--quiet", "-w", str(out), str(REPOSITORY)], out, 600)
    (built,) = out.glob("dicom_lake-*.whl")
    return built


def test_the_wheel_carries_the_dbt_project(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    bundled = "extractor/dbt_project/"
    for name in (
        "dbt_project.yml",
        "profiles.example.yml",
        "models/marts/instance.sql",
        "models/staging/_landing__sources.yml",
        "macros/engine/json.sql",
        "seeds/dicom_tags.csv",
        "tests/generic/unique_combination_of_columns.sql",
        "tests/singular/assert_dicom_tags_seed_is_valid.sql",
    ):
        assert bundled + name in names, name
    assert not any(name.startswith(bundled + "tests/python") for name in names)
    assert not any(name.startswith(("bench/", "tests/")) for name in names)


def test_an_installed_wheel_runs_the_demo_elsewhere(wheel: Path, tmp_path: Path) -> None:
    environment = tmp_path / "venv"
    venv.create(environment, with_pip=True)
    python = environment / "bin" / "python"
    run([str(python), "-m", "pip", "install", "--quiet", str(wheel)], tmp_path, INSTALL_TIMEOUT)

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    where = run([str(python), "-c", "import extractor; print(extractor.__file__)"], elsewhere, 60)
    assert Path(where.stdout.strip()).is_relative_to(environment)

    demo = run([str(environment / "bin" / "dicom-lake"), "demo"], elsewhere, 600)
    assert "instance_history" in demo.stdout and "dbt build       passed" in demo.stdout
    assert (elsewhere / "demo-lake" / "warehouse.duckdb").is_file()
    assert (elsewhere / "demo-lake" / "delta" / "instance" / "_delta_log").is_dir()
