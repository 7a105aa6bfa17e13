"""Build: the dbt project run over the landing zone, into `<lake>/warehouse.duckdb`.

`project.py` (where the bundled project is; the marts' keys it declares), `dbt.py` (`dbt build`
in this process, its outcome read node by node), `warehouse.py` (waiting for the warehouse file).
"""

from extractor.build.dbt import BuildResult, EmptyLandingZoneError, build, run_dbt
from extractor.build.project import adf_keys, mart_keys, project_dir
from extractor.build.warehouse import WarehouseBusy

__all__ = [
    "BuildResult",
    "EmptyLandingZoneError",
    "WarehouseBusy",
    "adf_keys",
    "build",
    "mart_keys",
    "project_dir",
    "run_dbt",
]
