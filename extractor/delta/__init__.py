"""Delta: the marts published as Delta Lake tables (delta-rs), one MERGE per table and run.

`schema.py` (the published tables, their keys, columns and Delta types, the profiles),
`features.py` (the table features a new column needs), `storage.py` (where the tables go and how
to reach Azure storage), `commits.py` (the watermark each commit records; reading "as of sequence
N"), `changes.py` (what a MERGE upserts and deletes, which files it skips), `create.py` (a new
table, clustered by key), `publish.py` (one publication of every table), `maintain.py` (compaction
and vacuum).
"""

from extractor.delta.commits import (
    APP_ID,
    META_SEQUENCE,
    META_TABLE,
    META_TIMESTAMP,
    published_sequence,
    version_as_of_sequence,
)
from extractor.delta.maintain import MaintenanceReport, maintain
from extractor.delta.publish import PublishResult, TablePublication, publish
from extractor.delta.schema import ADF_TABLES, TABLE_KEYS, TABLES, DeltaProfile
from extractor.delta.storage import UnusableDeltaLocation, resolve_delta_uri, storage_options_for

__all__ = [
    "ADF_TABLES",
    "APP_ID",
    "META_SEQUENCE",
    "META_TABLE",
    "META_TIMESTAMP",
    "TABLES",
    "TABLE_KEYS",
    "DeltaProfile",
    "MaintenanceReport",
    "PublishResult",
    "TablePublication",
    "UnusableDeltaLocation",
    "maintain",
    "publish",
    "published_sequence",
    "resolve_delta_uri",
    "storage_options_for",
    "version_as_of_sequence",
]
