"""Writing the landing zone: a zstd Parquet file per batch, whole or not at all, never rewritten."""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from extractor.lake import Lake
from extractor.landing.schema import LANDING_SCHEMA
from extractor.sources.contract import some_sequences

log = logging.getLogger(__name__)


def write_batch(lake: Lake, rows: Iterable[Mapping[str, object]]) -> Path | None:
    """Land rows (dicts keyed by LANDING_SCHEMA's names) as one new Parquet file.

    The file appears whole or not at all: it is written under a temporary name, flushed to
    disk, then renamed. Returns the file's path, or None when there was nothing to write.
    """
    table = _landing_table(list(rows))
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


def _landing_table(rows: list[Mapping[str, object]]) -> pa.Table:
    """The rows as a table; text Parquet cannot hold (a lone surrogate) is kept as its escape.

    JSON lets a string hold half a surrogate pair (`"\\ud800"`), UTF-8 does not: such a character
    is written as the six characters of its escape, so the row lands and its text stays readable
    for what it was sent as.
    """
    try:
        return pa.Table.from_pylist(rows, schema=LANDING_SCHEMA)
    except UnicodeEncodeError:
        pass
    escaped = [{name: _escaped(value) for name, value in row.items()} for row in rows]
    changed = [row["sequence"] for row, new in zip(rows, escaped, strict=True) if row != new]
    log.warning(
        "%d entr%s held text UTF-8 cannot encode (a lone surrogate), landed as its escape: "
        "sequence %s",
        len(changed),
        "y" if len(changed) == 1 else "ies",
        some_sequences(changed),
    )
    return pa.Table.from_pylist(escaped, schema=LANDING_SCHEMA)


def _escaped(value: object) -> object:
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    return value


def _fsync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
