"""How the Delta tables' data files are written: their size and codec, for every writer of them.

A table's creation chooses both; its later writers (each publication's MERGE, `maintain`'s
compaction) follow what the table already has, so a table keeps one layout for its life.

- **Size**: a MERGE rewrites whole files: smaller files rewrite less per changed study, larger
  ones leave readers fewer files to open. The size is kept as the table property
  `delta.targetFileSize`, which delta-rs's MERGE and OPTIMIZE follow. It counts compressed
  bytes, so each codec has its own default, for about as many instances per file: 1 MiB of
  zstd or 4 MiB of Snappy (the bench's 1M `instance`: 3,600 and 4,900 instances per file;
  4 MiB of zstd held 29,000, and its MERGE of 10,000 changes copied 552,000 rows, not
  90,000).
- **Codec**: zstd, which Spark, Databricks, DuckDB, Polars and pyarrow read, and which holds the
  metadata documents in a tenth of Snappy's bytes; under the `fabric` profile Snappy, the codec
  Fabric's own engines write. delta-rs has no table property for the codec (and refuses
  properties of its own), so later writers take it from the names of the table's files.
"""

from __future__ import annotations

from deltalake import DeltaTable, WriterProperties

from extractor.delta.schema import DeltaProfile

# the Parquet codecs delta-rs writes, by pyarrow's names for them
CODECS = frozenset({"ZSTD", "SNAPPY", "GZIP", "BROTLI", "LZ4", "LZ4_RAW", "UNCOMPRESSED"})

_DEFAULT_TARGET_FILE_SIZES = {"ZSTD": 1024 * 1024, "SNAPPY": 4 * 1024 * 1024}
TARGET_FILE_SIZE_PROPERTY = "delta.targetFileSize"
# what delta-rs writes unless told otherwise: the tables created before the codec was chosen
_DELTA_RS_DEFAULT = "SNAPPY"


def creation_codec(profile: DeltaProfile) -> str:
    return "SNAPPY" if profile is DeltaProfile.fabric else "ZSTD"


def default_target_file_size(codec: str) -> int:
    return _DEFAULT_TARGET_FILE_SIZES.get(codec, _DEFAULT_TARGET_FILE_SIZES["SNAPPY"])


def writer_properties(codec: str) -> WriterProperties:
    return WriterProperties(compression=codec)  # type: ignore[arg-type]  # one of CODECS


def table_codec(delta: DeltaTable) -> str:
    """The codec the table's files are named for (`part-…-c000.zstd.parquet`, as delta-rs and
    Spark name them), from the log: no data file is opened."""
    for uri in delta.file_uris():
        codec = uri.rsplit(".", 2)[-2].upper()
        if codec in CODECS:
            return codec
    return _DELTA_RS_DEFAULT
