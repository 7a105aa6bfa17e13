"""The same models on DuckDB and on Spark give the same tables, row for row and type for type.

One scenario of the model tests (first load with malformed values and documents that are not
JSON, a bulk update re-read, deletes of an instance, a series and a study, a re-create, a late
stale Create, an unknown action), built by both engines four times: in full, incrementally after
more events land, after a new seed column, and in full again under a privacy policy. After each
build every mart and data-quality table is compared: DuckDB's tables against Spark's Delta
tables (read back with deltalake), and the Delta tables dicom-lake publishes from DuckDB against
Spark's (both also read by delta-kernel-rs, an independent reader). Any difference fails. Last,
the Spark SQL example notebook runs on the tables Spark built.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import nbformat
import pyarrow as pa
import pytest
from deltalake import DeltaTable
from nbclient import NotebookClient
from support.feed_events import SECOND_EXTRACTION, event, first_batch, metadata, second_batch
from support.lake_checks import copy_project, mart_rows
from support.projection import COLUMNS, EXPECTED, SEED_ROWS, document_a, document_b
from support.readers import kernel_rows
from support.spark import needs_java_and_maven

from extractor.build import BuildResult, Engine, build
from extractor.build.spark import spark_environment
from extractor.delta import TABLES, publish
from extractor.lake import Lake
from extractor.landing import LandingZone
from extractor.privacy.keyed import KEY_VARIABLE, pseudonym

# a Spark build of this scenario takes minutes on two cores
pytestmark = [needs_java_and_maven, pytest.mark.timeout(1200)]

DATA_QUALITY = ["dicom_value_errors", "feed_anomalies", "metadata_quarantine"]
# which build staged a row is bookkeeping, not data
BOOKKEEPING = {"load_id"}
SOFTWARE = {"00181020": {"vr": "LO", "Value": ["2.0", "2.1"]}}
EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def third_batch() -> list[dict[str, object]]:
    later = SECOND_EXTRACTION.replace(day=4)
    return [
        # p and q: sequence paths and private attributes, their blocks at different numbers
        event(30, "Create", "p", document_a("p"), extracted_at=later),
        event(31, "Create", "q", document_b("q"), extracted_at=later),
        # m: new, with the attribute the new seed row projects (series X1's latest instance)
        event(32, "Create", "m", metadata("m", **SOFTWARE), extracted_at=later),
        # g: deleted, so series X3 keeps only h
        event(33, "Delete", "g", None, series="X3", extracted_at=later),
    ]


def assert_built(result: BuildResult) -> None:
    assert result.success, (result.failed, result.messages, result.error)


def _normalized(type_: pa.DataType) -> str:
    """An Arrow type as both engines' readers mean it: string, large_string and string_view
    are one type, and so are list and large_list."""
    if pa.types.is_large_string(type_) or pa.types.is_string_view(type_):
        return "string"
    if pa.types.is_list(type_) or pa.types.is_large_list(type_) or pa.types.is_list_view(type_):
        return f"list<{_normalized(type_.value_type)}>"
    return str(type_)


def _schema(table: pa.Table) -> dict[str, str]:
    return {
        field.name: _normalized(field.type)
        for field in table.schema
        if field.name not in BOOKKEEPING
    }


def _rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    kept = [{k: v for k, v in row.items() if k not in BOOKKEEPING} for row in rows]
    return sorted(kept, key=lambda row: json.dumps(row, default=str, sort_keys=True))


def assert_same_rows(actual: list[dict[str, Any]], expected: list[dict[str, Any]], table: str):
    """Equal rows; else the first few differences, column by column, in the message."""
    mine, theirs = _rows(actual), _rows(expected)
    if mine == theirs:
        return
    differences = [
        {k: (a.get(k), b.get(k)) for k in {*a, *b} if a.get(k) != b.get(k)}
        for a, b in zip(mine, theirs, strict=False)
        if a != b
    ]
    pytest.fail(
        f"{table}: {len(mine)} rows against {len(theirs)}; first differences (actual, "
        f"expected): {differences[:3]}"
    )


def duckdb_table(lake: Path, table: str) -> pa.Table:
    with duckdb.connect(str(Lake(lake).warehouse), read_only=True) as connection:
        connection.execute("set TimeZone = 'UTC'")
        return connection.sql(f"select * from main.{table}").to_arrow_table()


def delta_table(uri: Path | str) -> pa.Table:
    return DeltaTable(str(uri)).to_pyarrow_table()


def spark_delta(lake: Path, table: str) -> Path:
    """Where Spark wrote a table: the marts at <lake>/delta, the others in its warehouse."""
    return Lake(lake).root / "delta" / table if table in TABLES else Lake(lake).spark_table(table)


def assert_same_tables(duck: Path, spark: Path) -> None:
    for table in TABLES:
        published = delta_table(Path(Lake(duck).default_delta_table(table)))
        written = delta_table(spark_delta(spark, table))
        assert _schema(written) == _schema(published), table
        assert_same_rows(written.to_pylist(), published.to_pylist(), table)
        # DuckDB's mart itself (its TIME as the text Delta holds), against Spark's table
        assert_same_rows(written.to_pylist(), mart_rows(duck, table), table)
        kernel_published = kernel_rows(Lake(duck).default_delta_table(table))
        assert_same_rows(kernel_rows(str(spark_delta(spark, table))), kernel_published, table)
    for table in DATA_QUALITY:
        expected = duckdb_table(duck, table)
        written = delta_table(spark_delta(spark, table))
        assert _schema(written) == _schema(expected), table
        assert_same_rows(written.to_pylist(), expected.to_pylist(), table)


@pytest.fixture(scope="module")
def lakes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path, Path]]:
    root = tmp_path_factory.mktemp("engines")
    duck, spark = root / "duckdb", root / "spark"
    yield duck, spark, copy_project(root)


def build_both(lakes: tuple[Path, Path, Path], events: list[dict[str, object]]) -> None:
    duck, spark, project = lakes
    for lake in (duck, spark):
        LandingZone(lake).land(events)
    assert_built(build(duck, project_dir=project))
    # every row re-merged: an event re-read with newer metadata and no new sequence (the bulk
    # update of the scenario) changes the mart but not what an incremental publication upserts
    publish(duck, full_refresh=True)
    assert_built(build(spark, project_dir=project, engine=Engine.spark))


def test_a_full_build_is_the_same_on_both_engines(lakes: tuple[Path, Path, Path]) -> None:
    build_both(lakes, first_batch())
    duck, spark, _ = lakes
    assert_same_tables(duck, spark)
    # the scenario reached these tables: nothing compared empty (the unknown action comes next)
    for table in [*TABLES, "dicom_value_errors", "metadata_quarantine"]:
        assert delta_table(spark_delta(spark, table)).num_rows > 0, table


def test_an_incremental_build_is_the_same_on_both_engines(
    lakes: tuple[Path, Path, Path],
) -> None:
    build_both(lakes, second_batch())
    duck, spark, _ = lakes
    assert_same_tables(duck, spark)
    # the bulk update re-read reached Spark's instance table
    instance = delta_table(spark_delta(spark, "instance")).to_pylist()
    assert {row["institution_name"] for row in instance if row["sop_instance_uid"] == "a"} == {
        "New"
    }
    anomalies = delta_table(spark_delta(spark, "feed_anomalies")).to_pylist()
    assert [row["action"] for row in anomalies] == ["Frobnicate"]


def test_a_new_seed_column_is_the_same_on_both_engines(lakes: tuple[Path, Path, Path]) -> None:
    duck, spark, project = lakes
    with (project / "seeds" / "dicom_tags.csv").open("a") as seed:
        seed.write("00181020,SoftwareVersions,series,software_versions,,,,,\n")
        seed.write(SEED_ROWS)
    build_both(lakes, third_batch())
    assert_same_tables(duck, spark)
    instance = delta_table(spark_delta(spark, "instance")).to_pylist()
    columns = ["sop_instance_uid", *(name.strip() for name in COLUMNS.split(","))]
    projected = sorted(tuple(row[name] for name in columns) for row in instance)
    assert [row for row in projected if row[0] in ("p", "q")] == [
        ("p", *EXPECTED[0][1:]),
        ("q", *EXPECTED[1][1:]),
    ]
    series = delta_table(spark_delta(spark, "series")).to_pylist()
    assert ["2.0", "2.1"] in [row["software_versions"] for row in series]


def test_a_privacy_policy_is_the_same_on_both_engines(
    lakes: tuple[Path, Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    # the built-in profile, and a site row keeping one private attribute whose creator has a
    # quote and regular-expression characters: the policy reaches Spark's SQL as a literal
    # (docs/privacy.md)
    duck, spark, project = lakes
    monkeypatch.setenv(KEY_VARIABLE, "cross-engine-test-key-0123456789abcdef")
    settings = project / "dbt_project.yml"
    settings.write_text(
        settings.read_text().replace("  privacy_profile: none", "  privacy_profile: basic")
    )
    (project / "seeds" / "dicom_privacy.csv").write_text(
        "attribute,private_creator,action\n7FD1xx10,ACME (v2.0) [O'Neil]+,keep\n"
    )
    assert_built(build(duck, project_dir=project, full_refresh=True))
    publish(duck, full_refresh=True)
    assert_built(build(spark, project_dir=project, engine=Engine.spark, full_refresh=True))
    assert_same_tables(duck, spark)
    instance = delta_table(spark_delta(spark, "instance")).to_pylist()
    assert instance and all(row["sop_instance_uid"].startswith("2.25.") for row in instance)
    patient_ids = {row["patient_id"] for row in instance}
    assert pseudonym("PID-1") in patient_ids and "PID-1" not in patient_ids
    assert {row["acme_scan_mode"] for row in instance} >= {"HELICAL"}
    assert {row["siemens_number_of_slices"] for row in instance} == {None}  # private: dropped


SPARK_SESSION = """import os

import jinja2
import yaml
from pyspark.sql import SparkSession

# the session a Fabric or Databricks notebook is given, made here with the profile's settings
rendered = jinja2.Template(open({profile!r}).read()).render(
    env_var=lambda name, default="": os.environ.get(name, default)
)
settings = yaml.safe_load(rendered)["dicom_lake"]["outputs"]["spark"]["server_side_parameters"]
builder = SparkSession.builder.enableHiveSupport()
for name, value in settings.items():
    builder = builder.config(name, value)
spark = builder.getOrCreate()
spark.catalog.setCurrentDatabase("dicom_lake")"""


def test_the_spark_sql_notebook_runs_on_the_spark_tables(
    lakes: tuple[Path, Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    # examples/spark_sql.ipynb as written for Fabric and Databricks, on the tables Spark built
    _, spark, project = lakes
    for name, value in {"DICOM_LAKE_DIR": str(spark), **spark_environment()}.items():
        monkeypatch.setenv(name, value)
    notebook = nbformat.read(EXAMPLES / "spark_sql.ipynb", as_version=4)
    profile = str(project / "profiles.example.yml")
    notebook.cells.insert(0, nbformat.v4.new_code_cell(SPARK_SESSION.format(profile=profile)))
    # a failing cell raises CellExecutionError, naming the cell
    NotebookClient(notebook, timeout=600, kernel_name="python3").execute()
    printed = [
        "".join(output.get("text", "") for output in cell.outputs)
        for cell in notebook.cells
        if cell.cell_type == "code"
    ][2:]
    assert len(printed) == 5 and all("+" in text for text in printed), printed
    assert "modality" in printed[0] and "CT" in printed[0]
    assert "as_of_sequence" in printed[-1]
