"""The Spark tier's tests: skipped, saying so, only where Java or Maven is missing.

Everything else the Spark engine needs (pyspark and dbt-spark from PyPI, the Delta jars from
Maven Central) is installed by `make test` (the Makefile's `spark` target): a missing piece is a
failure then, not a reason to skip.
"""

from __future__ import annotations

import shutil

import pytest

MISSING_TOOLS = [tool for tool in ("java", "mvn") if shutil.which(tool) is None]

needs_java_and_maven = pytest.mark.skipif(
    bool(MISSING_TOOLS),
    reason=f"the Spark tier needs Java and Maven; missing here: {', '.join(MISSING_TOOLS)}",
)
