"""The lake's layout: where each file of a lake lives. No other module builds these paths.

```
<lake>/
  landing/changefeed/changefeed-<first>-<last>-<id>.parquet   the feed as it came (landing/)
  landing/orthanc-reconcile.json                              Orthanc: runs since a reconciliation
  quarantine/landing/changefeed-*.parquet                     landed files found damaged, re-read
  warehouse.duckdb                                            the dbt warehouse (build/)
  dbt/                                                        dbt's profile, target/ and logs/
  delta/<table>                                               the Delta tables, by default (delta/);
                                                              --engine spark: Spark writes them
  spark/                                                      --engine spark: Spark's warehouse
                                                              (the other tables), Derby metastore
  runs/<finished>-<run id>.json                               each run's closing record (job/)
  report.html                                                 `dicom-lake report` (report/)
  .dicom-lake.lock                                            the run lock (job/)
  .dicom-lake-demo                                            marks a lake the demo made
```
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

CHANGEFEED_FILE_PREFIX = "changefeed-"


@dataclass(frozen=True)
class Lake:
    """A lake directory. Paths are as given (relative stays relative) unless a property says."""

    root: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))

    @property
    def landing(self) -> Path:
        return self.root / "landing"

    @property
    def changefeed(self) -> Path:
        """The landed change feed: one zstd Parquet file per batch."""
        return self.landing / "changefeed"

    @property
    def changefeed_glob(self) -> str:
        """Every landed file, as a read_parquet glob (the lake's own path escaped)."""
        return f"{duckdb_glob_escape(str(self.changefeed))}/*.parquet"

    @property
    def landing_quarantine(self) -> Path:
        """Landed files that could not be read, moved out of the changefeed (kept, never read)."""
        return self.root / "quarantine" / "landing"

    def changefeed_file(self, first: int, last: int, unique: str) -> Path:
        return (
            self.changefeed / f"{CHANGEFEED_FILE_PREFIX}{first:020d}-{last:020d}-{unique}.parquet"
        )

    @property
    def reconcile_state(self) -> Path:
        """Orthanc: how many runs since the last reconciliation (not correctness state)."""
        return self.landing / "orthanc-reconcile.json"

    @property
    def warehouse(self) -> Path:
        return self.root / "warehouse.duckdb"

    @property
    def dbt(self) -> Path:
        """dbt's folder for this lake: the profile copy, target/ and logs/."""
        return self.root / "dbt"

    @property
    def spark(self) -> Path:
        """The Spark engine's warehouse and metastore (profiles.example.yml, target `spark`)."""
        return self.root / "spark"

    def spark_table(self, table: str) -> Path:
        """A Spark warehouse table's Delta files (the `dicom_lake` schema of the profile)."""
        return self.spark / "warehouse" / "dicom_lake.db" / table

    @property
    def dbt_target(self) -> Path:
        """dbt's target/: compiled SQL, manifest, run_results.json, the partial-parse file."""
        return self.dbt / "target"

    @property
    def dbt_logs(self) -> Path:
        return self.dbt / "logs"

    @property
    def build_stamp(self) -> Path:
        """What the last successful build read (extractor.build.freshness)."""
        return self.dbt / "last-build.json"

    @property
    def privacy_stamp(self) -> Path:
        """The privacy policy the last successful build applied (extractor.build.dbt)."""
        return self.dbt / "privacy-policy.json"

    @property
    def publication_stamp(self) -> Path:
        """What the last successful publication read and left (extractor.delta.publish)."""
        return self.root / "last-publication.json"

    @property
    def default_delta_uri(self) -> str:
        """Where the Delta tables go unless a URI is given: `<lake>/delta`, absolute."""
        return str(self.root.resolve() / "delta")

    def default_delta_table(self, table: str) -> str:
        """`<lake>/delta/<table>`, absolute."""
        return delta_table_uri(self.default_delta_uri, table)

    @property
    def runs(self) -> Path:
        """The job's history: one closing record per run (extractor.job.history)."""
        return self.root / "runs"

    def run_record(self, finished: str, run_id: str) -> Path:
        return self.runs / f"{finished}-{run_id}.json"

    @property
    def report(self) -> Path:
        """The lake's report page (extractor.report)."""
        return self.root / "report.html"

    @property
    def lock(self) -> Path:
        return self.root / ".dicom-lake.lock"

    @property
    def demo_marker(self) -> Path:
        return self.root / ".dicom-lake-demo"


def unusable_lake_path(root: Path) -> str | None:
    """Why dbt cannot use a lake at `root`, or None: dbt-duckdb reads its path as a URI."""
    found = sorted(set("?#") & set(str(root.resolve())))
    if not found:
        return None
    return (
        f"the lake path {str(root)!r} holds {' and '.join(found)}, which dbt-duckdb reads as"
        " the start of a URI's query or fragment (it would open another file): use a path"
        " without them"
    )


def duckdb_glob_escape(path: str) -> str:
    """`path` with DuckDB's glob characters made literal: `*`, `?` and `[` as `[*]`, `[?]`, `[[]`.

    models/staging/_landing__sources.yml applies the same rule to the dbt source's location.
    """
    return "".join(f"[{character}]" if character in "*?[" else character for character in path)


def delta_table_uri(delta_uri: str, table: str) -> str:
    """`<delta_uri>/<table>`, for a local path or a storage URI alike."""
    return f"{delta_uri.rstrip('/')}/{table}"


def changefeed_file_range(path: Path) -> tuple[int, int]:
    """The first and last sequence a landed file's name says it holds (Lake.changefeed_file)."""
    first, last = path.name.removeprefix(CHANGEFEED_FILE_PREFIX).split("-")[:2]
    return int(first), int(last)
