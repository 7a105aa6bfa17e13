"""The models hold no engine-specific SQL, and every Spark macro also serves dbt-fabricspark.

These read the project's files (no engine runs): what the cross-engine test cannot see, a DuckDB
construct in a model that the scenario's data happens not to reach, is caught here.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from extractor.build import project_dir

PROJECT = project_dir()
MODEL_FILES = sorted((PROJECT / "models").rglob("*.sql")) + sorted(
    (PROJECT / "tests").rglob("*.sql")
)
MACRO_FILES = sorted((PROJECT / "macros").rglob("*.sql"))

# DuckDB spellings with no Spark meaning (or another one): they belong in dispatched macros
DUCKDB_ONLY = {
    "qualify": r"\bqualify\b",
    "arg_max": r"\barg_max\(",
    "struct_pack": r"\bstruct_pack\(",
    "hash()": r"(?<![a-z_])hash\(",
    "varchar": r"\bvarchar\b",
    "timestamptz": r"\btimestamptz\b",
    "a double-quoted identifier": r'(?<![\'\w])"[A-Za-z_]+"(?!\')',
    "regexp_full_match": r"\bregexp_full_match\(",
    "list_* functions": r"\blist_(transform|filter|slice|sort|distinct)\(",
    "json_* functions": r"\bjson_(extract|type|valid|transform)\(",
    "->> / ->": r"->>|-> '",
    "insert or replace": r"\binsert or replace\b",
    "read_parquet": r"\bread_parquet\(",
    "union by name": r"\bunion( all)? by name\b",
}


def _without_comments(path: Path) -> str:
    """The file's text without Jinja comments (their prose may name anything)."""
    return re.sub(r"\{#.*?#\}", "", path.read_text(), flags=re.DOTALL)


def _sql_outside_jinja(path: Path) -> str:
    """The file's SQL text: no Jinja (its strings are not SQL), no SQL comments."""
    text = re.sub(r"\{\{.*?\}\}|\{%.*?%\}", "", _without_comments(path), flags=re.DOTALL)
    return "\n".join(line.split("--")[0] for line in text.splitlines())


@pytest.mark.parametrize("path", MODEL_FILES, ids=lambda path: str(path.relative_to(PROJECT)))
def test_a_model_holds_no_engine_specific_sql(path: Path) -> None:
    text = _sql_outside_jinja(path)
    found = [name for name, pattern in DUCKDB_ONLY.items() if re.search(pattern, text)]
    assert not found, f"{path.name}: {', '.join(found)}: write it in a dispatched macro"


def _macros(prefix: str) -> set[str]:
    names = set()
    for path in MACRO_FILES:
        names |= set(re.findall(rf"macro {prefix}__(\w+)\(", path.read_text()))
    return names


def test_every_spark_macro_has_its_fabricspark_wrapper() -> None:
    # dbt-spark's own seed loader is replaced for session mode only; dbt-fabricspark has its own
    assert _macros("fabricspark") == _macros("spark") - {"load_csv_rows"}


def test_the_macros_call_no_engine_specific_sql_outside_their_engine_versions() -> None:
    """A macro body that is not `default__` (DuckDB) or an engine's own version is neutral."""
    offenders = []
    for path in MACRO_FILES:
        text = _without_comments(path)
        for match in re.finditer(
            r"\{%-? macro (\w+)\(.*?\{%-? endmacro -?%\}", text, flags=re.DOTALL
        ):
            name = match.group(1)
            if name.startswith(("default__", "spark__", "fabricspark__")):
                continue
            body = match.group(0)
            offenders += [
                f"{path.name}:{name}: {kind}"
                for kind, pattern in DUCKDB_ONLY.items()
                if re.search(pattern, body) and kind != "a double-quoted identifier"
            ]
    assert not offenders, offenders
