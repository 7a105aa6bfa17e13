"""The landing zone: the change feed as it came, one zstd Parquet file per batch.

Files are written once and never rewritten. The watermark is read back from what has landed,
so a crash can never leave a bookmark ahead of the data.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

log = logging.getLogger(__name__)

LANDING_SCHEMA = pa.schema(
    [
        pa.field("sequence", pa.int64(), nullable=False),
        pa.field("timestamp", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("action", pa.string()),
        pa.field("state", pa.string()),
        pa.field("partition_name", pa.string()),
        pa.field("study_instance_uid", pa.string()),
        pa.field("series_instance_uid", pa.string()),
        pa.field("sop_instance_uid", pa.string()),
        pa.field("file_path", pa.string()),
        pa.field("metadata", pa.string()),
        pa.field("extracted_at", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("source", pa.string(), nullable=False),
        # The source's own id of the instance, where it has one (Orthanc's instance id), so that
        # later lookups need no UID search. Null for the Azure feed. Files landed before this
        # column existed still read: the dbt source reads with union_by_name.
        pa.field("source_instance_id", pa.string()),
    ]
)


def changefeed_dir(lake_dir: Path) -> Path:
    return lake_dir / "landing" / "changefeed"


@dataclass(frozen=True)
class Watermark:
    """The newest entry that has landed: highest sequence and the latest timestamp."""

    sequence: int
    timestamp: datetime


def write_batch(lake_dir: Path, rows: Iterable[Mapping[str, object]]) -> Path | None:
    """Land rows (dicts keyed by LANDING_SCHEMA's names) as one new Parquet file.

    The file appears whole or not at all: it is written under a temporary name, flushed to
    disk, then renamed. Returns the file's path, or None when there was nothing to write.
    """
    table = pa.Table.from_pylist(list(rows), schema=LANDING_SCHEMA)
    if table.num_rows == 0:
        return None
    directory = changefeed_dir(lake_dir)
    directory.mkdir(parents=True, exist_ok=True)
    first, last = pc.min_max(table["sequence"]).values()
    name = f"changefeed-{first.as_py():020d}-{last.as_py():020d}-{uuid.uuid4().hex[:12]}.parquet"
    final = directory / name
    temporary = directory / f".{name}.tmp"
    try:
        with open(temporary, "wb") as sink:
            pq.write_table(table, sink, compression="zstd")
            sink.flush()
            os.fsync(sink.fileno())
        os.replace(temporary, final)
    finally:
        temporary.unlink(missing_ok=True)
    _fsync_directory(directory)
    return final


class Lander:
    """Collects rows and lands them a file at a time; remembers the files and their actions."""

    def __init__(self, lake_dir: Path, batch_size: int) -> None:
        self.lake_dir = lake_dir
        self.batch_size = batch_size
        self.rows: list[Mapping[str, object]] = []
        self.files: list[Path] = []
        self.by_action: Counter[str] = Counter()

    def add(self, row: Mapping[str, object]) -> None:
        self.rows.append(row)

    def land_if_full(self) -> None:
        if len(self.rows) >= self.batch_size:
            self.land()

    def land(self) -> None:
        path = write_batch(self.lake_dir, self.rows)
        if path is not None:
            self.files.append(path)
            self.by_action.update(str(row["action"]) for row in self.rows)
            log.info("landed %d entries in %s", len(self.rows), path.name)
        self.rows = []


def _fsync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def landed_files(lake_dir: Path) -> str | None:
    """The glob of the landed Parquet files, for read_parquet; None while nothing has landed."""
    directory = changefeed_dir(lake_dir)
    if not any(directory.glob("*.parquet")):
        return None
    return str(directory / "*.parquet")


def read_watermark(lake_dir: Path) -> Watermark | None:
    """The highest sequence and the latest timestamp that have landed, or None if nothing has."""
    files = landed_files(lake_dir)
    if files is None:
        return None
    with duckdb.connect() as connection:
        row = connection.execute(
            "select max(sequence), max(timestamp) from read_parquet(?)", [files]
        ).fetchone()
    if row is None or row[0] is None:
        return None
    return Watermark(sequence=row[0], timestamp=row[1])


def landed_sequences_since(lake_dir: Path, since: datetime) -> set[int]:
    """Sequences already landed with a timestamp at or after `since` (the overlap to dedupe)."""
    files = landed_files(lake_dir)
    if files is None:
        return set()
    with duckdb.connect() as connection:
        rows = connection.execute(
            "select sequence from read_parquet(?) where timestamp >= ?", [files, since]
        ).fetchall()
    return {sequence for (sequence,) in rows}
