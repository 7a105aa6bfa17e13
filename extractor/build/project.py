"""Where the bundled dbt project is, and the facts Python takes from it (the marts' keys).

In a source checkout the project is the repository root; an installed wheel carries a copy in
`extractor/dbt_project/` (pyproject.toml puts it there). The marts' key columns are declared
once, as the `mart_keys` var of dbt_project.yml (those of the ADF template's tables as
`adf_keys`): the models read them with `var()`, the Delta publication, the command line and the
tests with `mart_keys()` and `adf_keys()`.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import yaml

_PACKAGE = Path(__file__).resolve().parent.parent
_CANDIDATES = (_PACKAGE / "dbt_project", _PACKAGE.parent)


@cache
def project_dir() -> Path:
    """The bundled dbt project: the copy in the installed package, else the source checkout."""
    for candidate in _CANDIDATES:
        if (candidate / "dbt_project.yml").is_file():
            return candidate
    raise FileNotFoundError(
        "the bundled dbt project is missing (looked in "
        + ", ".join(str(candidate) for candidate in _CANDIDATES)
        + "): reinstall dicom-lake, or pass --dbt-project"
    )


def mart_keys(project: Path | None = None) -> dict[str, tuple[str, ...]]:
    """Each published mart's key columns, in publication order, from dbt_project.yml."""
    return _declared_keys("mart_keys", project)


def adf_keys(project: Path | None = None) -> dict[str, tuple[str, ...]]:
    """The key columns of the ADF template's tables (models/adf/), by native mart."""
    return _declared_keys("adf_keys", project)


@cache
def _declared_keys(var: str, project: Path | None) -> dict[str, tuple[str, ...]]:
    path = (project or project_dir()) / "dbt_project.yml"
    declared = yaml.safe_load(path.read_text())["vars"][var]
    return {table: tuple(columns) for table, columns in declared.items()}
