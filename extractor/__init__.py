"""dicom-lake: an analytics copy of a DICOM archive's metadata.

The stages, in the order data flows: `sources` (read a DICOM server's changes), `landing` (the
feed as it came, as Parquet), `build` (the dbt project), `delta` (the marts as Delta tables),
`job` (the scheduled run), `cli` (the command line); `lake` knows where each file of a lake
lives, and `server` is the local DICOM service of the demo and the tests.
"""

from extractor.lake import Lake

__all__ = ["Lake"]
