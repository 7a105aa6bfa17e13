"""Write the example notebooks of examples/ from one list of analysis steps.

The same questions are asked of the local lake with DuckDB (`examples/local_duckdb.ipynb`, run
by the tests against the demo lake) and of the tables in a Fabric or Databricks notebook with
Spark SQL (`examples/spark_sql.ipynb`); only the spellings the engines differ in are written
twice. Run from the repository root after editing a step:

    .venv/bin/python scripts/generate_example_notebooks.py
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@dataclass(frozen=True)
class Step:
    title: str
    text: str
    sql: str
    spark_sql: str | None = None  # when Spark spells it otherwise


AS_OF = """
with as_of as (
    select {half} as n from instance_history
),

versions_until as (
    select
        instance_history.*,
        row_number() over (
            partition by partition_name, study_instance_uid, series_instance_uid, sop_instance_uid
            order by instance_history.sequence desc
        ) as newest
    from instance_history
    cross join as_of
    where instance_history.sequence <= as_of.n
)

select
    (select n from as_of) as as_of_sequence,
    count(distinct study_instance_uid) as studies,
    count(distinct series_instance_uid) as series,
    count(*) as instances
from versions_until
where newest = 1 and not is_deleted"""

STEPS = [
    Step(
        "Instances by modality",
        "One row per existing instance in `instance`: count them by modality.",
        """
select modality, count(*) as instances
from instance
group by modality
order by instances desc, modality""",
    ),
    Step(
        "Studies over time",
        "Studies by the month of their study date (a study without one counts apart).",
        """
select strftime(study_date, '%Y-%m') as month, count(*) as studies
from study
group by month
order by month""",
        """
select date_format(study_date, 'yyyy-MM') as month, count(*) as studies
from study
group by month
order by month""",
    ),
    Step(
        "From instance to series to study",
        "The marts join on their keys (`partition_name` and the UIDs): each instance with its "
        "series and its study.",
        """
select
    study.study_instance_uid,
    study.study_date,
    series.modality,
    series.series_description,
    count(*) as instances
from instance
inner join series
    on instance.partition_name = series.partition_name
    and instance.study_instance_uid = series.study_instance_uid
    and instance.series_instance_uid = series.series_instance_uid
inner join study
    on series.partition_name = study.partition_name
    and series.study_instance_uid = study.study_instance_uid
group by all
order by instances desc, study.study_instance_uid""",
    ),
    Step(
        "The history of one instance",
        "`instance_history` keeps every version of every instance: here the instance with the "
        "most events, oldest first (a Delete is a tombstone row, `is_deleted`).",
        """
select sop_instance_uid, sequence, action, is_deleted, valid_from, valid_to, is_current
from instance_history
where sop_instance_uid = (
    select sop_instance_uid
    from instance_history
    group by sop_instance_uid
    order by count(*) desc, sop_instance_uid
    limit 1
)
order by sequence""",
    ),
    Step(
        "The lake as of a sequence number",
        "What existed after the feed's event number N: each instance's newest version up to N, "
        "unless it is a tombstone. Here N is half the last sequence.",
        AS_OF.format(half="max(sequence) // 2"),
        AS_OF.format(half="max(sequence) div 2"),
    ),
]

LOCAL_SETUP = """import os
from pathlib import Path

import duckdb

# the demo lake (`make demo`), or the lake DICOM_LAKE_DIR names; read-only, so the job can run
lake = Path(os.environ.get("DICOM_LAKE_DIR", "../demo-lake"))
warehouse = duckdb.connect(str(lake / "warehouse.duckdb"), read_only=True)"""

SPARK_SETUP = """# In a Fabric notebook attached to the lakehouse the tables are in, or a Databricks
# notebook whose default schema holds them: `spark` is the notebook's session.
spark.sql("show tables").show()"""


def local_notebook() -> nbformat.NotebookNode:
    cells = [
        new_markdown_cell(
            "# The local lake with DuckDB\n\nThe analysis steps of the Learn guide on dicom-lake's "
            'tables (docs: README.md, "The tables"), on the lake\'s `warehouse.duckdb`.'
        ),
        new_code_cell(LOCAL_SETUP),
    ]
    for step in STEPS:
        cells.append(new_markdown_cell(f"## {step.title}\n\n{step.text}"))
        cells.append(new_code_cell(f'warehouse.sql("""{step.sql}\n""")'))
    return new_notebook(cells=cells, metadata=_metadata())


def spark_notebook() -> nbformat.NotebookNode:
    cells = [
        new_markdown_cell(
            "# The tables with Spark SQL (Fabric, Databricks)\n\nThe steps of "
            "`local_duckdb.ipynb` on the Delta tables, where a Fabric lakehouse or a Databricks "
            "schema holds them (docs/spark.md)."
        ),
        new_code_cell(SPARK_SETUP),
    ]
    for step in STEPS:
        cells.append(new_markdown_cell(f"## {step.title}\n\n{step.text}"))
        cells.append(
            new_code_cell(f'spark.sql("""\n{step.spark_sql or step.sql}\n""").show(truncate=False)')
        )
    return new_notebook(cells=cells, metadata=_metadata())


def _metadata() -> dict[str, object]:
    return {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }


def notebooks() -> dict[str, nbformat.NotebookNode]:
    return {"local_duckdb.ipynb": local_notebook(), "spark_sql.ipynb": spark_notebook()}


def write(folder: Path) -> list[Path]:
    folder.mkdir(exist_ok=True)
    written = []
    for name, notebook in notebooks().items():
        for index, cell in enumerate(notebook.cells):
            cell["id"] = f"cell-{index}"  # stable ids: the files change only with the steps
        nbformat.write(notebook, folder / name)
        written.append(folder / name)
    return written


def main() -> None:
    write(EXAMPLES)


if __name__ == "__main__":
    main()
