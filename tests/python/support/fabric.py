"""What the Fabric SQL analytics endpoint shows of a Delta table, per Fabric's documentation.

The list of Delta types it maps to T-SQL is kept with its source in
tests/python/delta/fabric_sql_endpoint_types.tsv; a column of another type is invisible there.
"""

from __future__ import annotations

import json
from functools import cache

from deltalake import DeltaTable

from support import REPOSITORY

_TYPES = REPOSITORY / "tests" / "python" / "delta" / "fabric_sql_endpoint_types.tsv"
# A representation of an invisible column the endpoint shows: the mart's JSON text companion,
# or the ADF template's own `metadata_string` beside `metadata`
COMPANION_SUFFIXES = ("_json", "_string")


@cache
def endpoint_types() -> dict[str, str]:
    """Delta type -> the T-SQL type the endpoint gives it."""
    lines = [line for line in _TYPES.read_text().splitlines() if line and not line.startswith("#")]
    return dict(line.split("\t") for line in lines)


def delta_types(uri: str) -> dict[str, object]:
    """Each column's type as the table's Delta schema spells it (a name, or a nested type)."""
    schema = json.loads(DeltaTable(uri).schema().to_json())
    return {field["name"]: field["type"] for field in schema["fields"]}


def endpoint_shows(delta_type: object) -> bool:
    if not isinstance(delta_type, str):  # array, map, struct
        return False
    return delta_type.split("(")[0] in endpoint_types()


def invisible_attributes(uri: str) -> list[str]:
    """The columns of a table the endpoint shows neither as they are nor by a text companion."""
    types = delta_types(uri)
    visible = {name for name, type_ in types.items() if endpoint_shows(type_)}
    return [
        name
        for name in types
        if name not in visible
        and not any(name + suffix in visible for suffix in COMPANION_SUFFIXES)
    ]
