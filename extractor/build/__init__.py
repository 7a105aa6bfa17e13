"""Build: the dbt project run over the landing zone, into `<lake>/warehouse.duckdb` (DuckDB)
or Spark's Delta tables (`--engine spark`).

`project.py` (where the bundled project is; the marts' keys it declares), `seeds.py` (the
projected attributes' seed, checked before dbt starts), `dbt.py` (`dbt build`, its outcome read
node by node), `freshness.py` (whether anything changed since the last successful build),
`warehouse.py` (waiting for the warehouse file), `spark.py` (what the Spark engine needs:
pyspark, dbt-spark, the Delta jars).
"""

from extractor.build.dbt import BuildResult, EmptyLandingZoneError, Engine, build, run_dbt
from extractor.build.project import adf_keys, mart_keys, project_dir
from extractor.build.seeds import SeedError
from extractor.build.spark import SparkUnavailable
from extractor.build.warehouse import WarehouseBusy

__all__ = [
    "BuildResult",
    "EmptyLandingZoneError",
    "Engine",
    "SeedError",
    "SparkUnavailable",
    "WarehouseBusy",
    "adf_keys",
    "build",
    "mart_keys",
    "project_dir",
    "run_dbt",
]
