"""The Delta table features a schema needs, added to a table before a column needs them.

A Delta reader refuses a table whose schema uses a type its protocol does not declare: a
`timestamp_ntz` column (a DICOM DT, the local time as written) needs the `timestampNtz` reader
and writer feature. delta-rs declares it when it creates a table, but not when a MERGE or an
append adds such a column to an existing one (schema evolution), and the table it then commits
is refused by delta-rs, DuckDB's delta extension, polars and Spark alike. So the publication adds
the feature first, in a commit of its own that changes no row: interrupted between the two, the
table declares a feature it does not use yet, which every reader accepts.
"""

from __future__ import annotations

import pyarrow as pa
from deltalake import CommitProperties, DeltaTable, TableFeatures

# The protocol's name of each feature this module may add (as `DeltaTable.protocol()` lists it)
_TIMESTAMP_NTZ = "timestampNtz"


def needed_features(schema: pa.Schema) -> dict[str, TableFeatures]:
    """The table features a table with this schema must declare, by protocol name."""
    needed: dict[str, TableFeatures] = {}
    if any(_has_timestamp_without_zone(field.type) for field in schema):
        needed[_TIMESTAMP_NTZ] = TableFeatures.TimestampWithoutTimezone
    return needed


def add_missing_features(
    delta: DeltaTable, schema: pa.Schema, commit: CommitProperties
) -> tuple[str, ...]:
    """Declare on `delta` the features `schema` needs and it lacks; returns their names."""
    protocol = delta.protocol()
    declared = set(protocol.reader_features or ()) & set(protocol.writer_features or ())
    missing = {name: f for name, f in needed_features(schema).items() if name not in declared}
    if missing:
        delta.alter.add_feature(
            list(missing.values()), allow_protocol_versions_increase=True, commit_properties=commit
        )
    return tuple(sorted(missing))


def _has_timestamp_without_zone(type_: pa.DataType) -> bool:
    if pa.types.is_timestamp(type_):
        return type_.tz is None
    if pa.types.is_list(type_) or pa.types.is_large_list(type_):
        return _has_timestamp_without_zone(type_.value_type)
    if pa.types.is_struct(type_):
        return any(_has_timestamp_without_zone(field.type) for field in type_.fields)
    if pa.types.is_map(type_):
        return _has_timestamp_without_zone(type_.key_type) or _has_timestamp_without_zone(
            type_.item_type
        )
    return False
