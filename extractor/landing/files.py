"""Writing the landing zone: a zstd Parquet file per batch, whole or not at all, never rewritten."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from extractor.lake import Lake
from extractor.landing.schema import LANDING_SCHEMA


def write_batch(lake: Lake, rows: Iterable[Mapping[str, object]]) -> Path | None:
    """Land rows (dicts keyed by LANDING_SCHEMA's names) as one new Parquet file.

    The file appears whole or not at all: it is written under a temporary name, flushed to
    disk, then renamed. Returns the file's path, or None when there was nothing to write.
    """
    table = pa.Table.from_pylist(list(rows), schema=LANDING_SCHEMA)
    if table.num_rows == 0:
        return None
    first, last = pc.min_max(table["sequence"]).values()
    final = lake.changefeed_file(first.as_py(), last.as_py(), uuid.uuid4().hex[:12])
    directory = final.parent
    directory.mkdir(parents=True, exist_ok=True)
    temporary = directory / f".{final.name}.tmp"
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


def _fsync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
