"""The Spark engine: what the profile's `spark` target needs from this machine.

pyspark (the `spark` extra) carries Spark's own jars; the Delta Lake jars come from Maven Central
into the jar cache (`make spark-jars`, from spark/pom.xml). Spark is handed the cached jars that
pyspark does not already ship: Delta's POM also pulls Hadoop, Parquet and Jackson jars that
Spark has in its own versions, and Spark's must win.
"""

from __future__ import annotations

import os
import re
import sys
from importlib.util import find_spec
from pathlib import Path

JARS_DIR_VARIABLE = "DICOM_LAKE_SPARK_JARS_DIR"
JARS_VARIABLE = "DICOM_LAKE_SPARK_JARS"
"""The profile's `spark.jars` (profiles.example.yml): the jars, comma-separated."""

_DELTA_JAR = re.compile(r"delta-spark_[0-9.]+_2\.13-.+\.jar")
_VERSION_SUFFIX = re.compile(r"-[0-9][^-]*\.jar$")


class SparkUnavailable(RuntimeError):
    """The Spark engine is not installed here: pyspark, dbt-spark or the Delta jars are missing."""


def jars_dir() -> Path:
    """The jar cache: DICOM_LAKE_SPARK_JARS_DIR, else ~/.cache/dicom-lake/spark-jars."""
    configured = os.environ.get(JARS_DIR_VARIABLE)
    if configured:
        return Path(configured)
    return Path.home() / ".cache" / "dicom-lake" / "spark-jars"


def _artifact(jar: Path) -> str:
    """A jar's artifact id: its name without the version (`hadoop-client-api-3.4.2.jar`)."""
    return _VERSION_SUFFIX.sub("", jar.name)


def _pyspark_jars() -> Path:
    spec = find_spec("pyspark")
    if spec is None or spec.origin is None:
        raise SparkUnavailable(
            "the Spark engine needs pyspark and dbt-spark: pip install 'dicom-lake[spark]' "
            "(in a checkout: make spark)"
        )
    if find_spec("dbt.adapters.spark") is None:
        raise SparkUnavailable("the Spark engine needs dbt-spark: pip install 'dicom-lake[spark]'")
    return Path(spec.origin).parent / "jars"


def delta_jars(folder: Path | None = None) -> list[Path]:
    """The cached jars Spark is given: the Delta ones and what they need beyond pyspark's own."""
    folder = folder or jars_dir()
    shipped = {_artifact(jar) for jar in _pyspark_jars().glob("*.jar")}
    cached = sorted(folder.glob("*.jar")) if folder.is_dir() else []
    if not any(_DELTA_JAR.fullmatch(jar.name) for jar in cached):
        raise SparkUnavailable(
            f"no Delta Lake jar in the jar cache {folder}: run `make spark-jars` (Maven resolves "
            f"spark/pom.xml from Maven Central), or set {JARS_DIR_VARIABLE} to a folder holding "
            "delta-spark_4.1_2.13 and its dependencies"
        )
    return [jar for jar in cached if _artifact(jar) not in shipped]


def spark_environment(folder: Path | None = None) -> dict[str, str]:
    """The variables the profile's `spark` target reads besides the lake directory, and the
    Python Spark's workers run (the privacy policy's functions need this environment's)."""
    return {
        JARS_VARIABLE: ",".join(str(jar) for jar in delta_jars(folder)),
        "PYSPARK_PYTHON": os.environ.get("PYSPARK_PYTHON", sys.executable),
    }
