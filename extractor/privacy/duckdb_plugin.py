"""The dbt-duckdb plugin profiles.example.yml lists: the privacy policy's SQL functions on each
DuckDB connection dbt opens. A module of its own, so that Spark's Python workers, which run the
functions, never import dbt."""

from __future__ import annotations

from dbt.adapters.duckdb.plugins import BasePlugin
from duckdb import DuckDBPyConnection

from extractor.privacy.functions import register_with_duckdb


class Plugin(BasePlugin):
    """dbt-duckdb's hook: registers the functions on each connection it opens."""

    def configure_connection(self, conn: DuckDBPyConnection) -> None:
        register_with_duckdb(conn)
