"""The landing zone's one table: the change feed as it came, a column per entry field."""

from __future__ import annotations

import pyarrow as pa

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
        # The end of the time window the entry was read in, where the source reads windows (the
        # Azure feed). An entry dated at or after it came from a misbehaving server or clock: it
        # lands, but its timestamp never becomes the watermark (extractor.landing.zone).
        pa.field("window_end", pa.timestamp("us", tz="UTC")),
        # The fingerprint of the privacy policy the landing zone applied to the entry (its
        # documents, UIDs and path), null where it applied none: the build then applies the
        # project's policy itself (extractor/privacy/, docs/privacy.md).
        pa.field("protected_with", pa.string()),
    ]
)
