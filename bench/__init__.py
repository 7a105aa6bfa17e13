"""The dicom-lake benchmark: a realistic change-feed generator and a runner that times the
extract, build and publish stages against a floor (see docs/benchmarks.md)."""
