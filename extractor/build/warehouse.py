"""Waiting for `warehouse.duckdb`: DuckDB lets one process write a database file, or many read it.

An analyst's session open on the warehouse, even read-only, keeps the build from writing it.
The build waits a bounded time for it to close, then stops with a message naming the process
(DuckDB's own, with its PID) instead of failing inside dbt as if a model were wrong.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import duckdb
from tenacity import (
    RetryError,
    before_sleep_log,
    retry,
    retry_if_exception,
    stop_after_delay,
    wait_fixed,
)

log = logging.getLogger(__name__)
_HOLDER = re.compile(r"Conflicting lock is held in .*?\(PID \d+\)")


class WarehouseBusy(RuntimeError):
    """Another process held the warehouse file for longer than the build would wait."""


def _is_lock_conflict(error: BaseException) -> bool:
    return isinstance(error, duckdb.IOException) and "Could not set lock" in str(error)


def wait_for_warehouse(warehouse: Path, wait: float) -> None:
    """Return once the warehouse can be opened for writing (or does not exist yet)."""
    if not warehouse.exists():
        return

    @retry(
        retry=retry_if_exception(_is_lock_conflict),
        stop=stop_after_delay(wait),
        wait=wait_fixed(min(1.0, wait) or 0.1),
        before_sleep=before_sleep_log(log, logging.INFO),
    )
    def open_for_writing() -> None:
        duckdb.connect(str(warehouse)).close()

    try:
        open_for_writing()
    except RetryError as error:
        cause = error.last_attempt.exception()
        raise WarehouseBusy(
            f"another process holds {warehouse} ({_holder(cause)}), still after {wait:g} s"
            " (--warehouse-wait): close that session, or read a copy or the Delta tables"
            " while the job runs (README: Querying while the job runs)"
        ) from None


def _holder(error: BaseException | None) -> str:
    """DuckDB's words for who holds the lock: 'Conflicting lock is held in <program> (PID n)'."""
    found = _HOLDER.search(str(error))
    return found.group(0) if found else str(error)
