"""The policy as SQL functions, so that the staging model applies it in the warehouse.

    dicom_lake_protected_document(metadata, policy)   the document, protected
    dicom_lake_protected_uid(uid, tag, policy)        a feed column holding the UID of `tag`
    dicom_lake_protected_path(file_path, policy)      a file path whose segments are UIDs

`policy` is the JSON text macros/privacy/protect.sql makes from the policy seeds; the key comes
from the environment of the process running them, so it is never in the compiled SQL. DuckDB
gets them from the dbt-duckdb plugin of duckdb_plugin.py (profiles.example.yml lists it); Spark from
`register_with_spark_sessions`, called by the process that runs dbt on Spark, with the policy
bound (the models pass it on DuckDB only).
"""

from __future__ import annotations

from collections.abc import Callable
from inspect import signature
from pathlib import Path
from typing import Any

from duckdb import DuckDBPyConnection
from duckdb.func import SPECIAL
from duckdb.sqltypes import VARCHAR

from extractor.privacy.documents import protect_document, protect_path, protect_uid
from extractor.privacy.policy import load_policy, policy_from_json


def protected_document(document: str | None, policy: str) -> str | None:
    return None if document is None else protect_document(document, policy_from_json(policy))


def protected_uid(value: str | None, tag: str, policy: str) -> str | None:
    return protect_uid(value, tag, policy_from_json(policy))


def protected_path(path: str | None, policy: str) -> str | None:
    return protect_path(path, policy_from_json(policy))


_FUNCTIONS: dict[str, Callable[..., str | None]] = {
    "dicom_lake_protected_document": protected_document,
    "dicom_lake_protected_uid": protected_uid,
    "dicom_lake_protected_path": protected_path,
}


def register_with_duckdb(connection: DuckDBPyConnection) -> None:
    for name, function in _FUNCTIONS.items():
        # the functions take and give nulls themselves: a document that is not JSON gives one
        arguments: list[Any] = [VARCHAR] * len(signature(function).parameters)
        connection.create_function(name, function, arguments, VARCHAR, null_handling=SPECIAL)


def register_with_spark_sessions(project: Path) -> None:
    """Register the functions on every Spark session this process creates, bound to the
    project's policy: on Spark the models pass no policy argument, which would travel to the
    Python workers with every row.

    dbt-spark's session mode builds its session inside each query with the profile's settings;
    wrapping the builder's getOrCreate is the one place to reach that session before it runs.
    """
    from pyspark.sql import SparkSession
    from pyspark.sql.types import StringType

    policy = load_policy(project)
    if policy is None:
        return  # the models call no function
    rules = policy.to_json()
    original = SparkSession.Builder.getOrCreate
    registered: set[int] = set()

    def get_or_create(builder: SparkSession.Builder) -> SparkSession:
        session = original(builder)
        if id(session) not in registered:
            for name, function in _FUNCTIONS.items():
                session.udf.register(name, _bound(function, rules), StringType())
            registered.add(id(session))
        return session

    SparkSession.Builder.getOrCreate = get_or_create  # type: ignore[method-assign,assignment]


def _bound(function: Callable[..., str | None], rules: str) -> Callable[..., str | None]:
    def bound(*arguments: str | None) -> str | None:
        return function(*arguments, rules)

    return bound
