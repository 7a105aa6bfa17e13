"""Landing: the change feed as it came, one zstd Parquet file per batch under
`<lake>/landing/changefeed/`, written once and never rewritten.

`schema.py` (the columns), `files.py` (writing one file, whole or not at all), `zone.py` (the
landing zone a source lands into, and the watermark and instances read back from it).
"""

from extractor.landing.files import write_batch
from extractor.landing.schema import LANDING_SCHEMA
from extractor.landing.zone import LandingZone

__all__ = ["LANDING_SCHEMA", "LandingZone", "write_batch"]
