"""Faults for the change-feed routes, so clients can prove their retries and error handling.

A fault is an int HTTP status, or one of ``"drop"`` (close without answering), ``"slow"`` (sleep,
then answer), ``"truncate"`` (a 200 carrying half the JSON) and ``"html200"`` (a 200 HTML error
page, like a proxy in front of the service). Queued faults are consumed first, one per request;
otherwise random faults are drawn at the configured rates.
"""

from __future__ import annotations

import random
import threading
from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any

Fault = int | str

NAMED_FAULTS = frozenset({"drop", "slow", "truncate", "html200"})
# Statuses random errors are drawn from unless configured: the two a client should retry.
DEFAULT_STATUSES = (429, 503)


def validate_fault(fault: Any) -> Fault:
    """Return the fault if it is one we know how to serve, else raise ValueError."""
    if isinstance(fault, bool):  # bool is an int subclass: refuse True/False as statuses
        raise ValueError(f"unknown fault {fault!r}")
    if isinstance(fault, int):
        if not 400 <= fault <= 599:
            raise ValueError(f"fault status {fault} is not an HTTP error status (400..599)")
        return fault
    if isinstance(fault, str) and fault in NAMED_FAULTS:
        return fault
    raise ValueError(
        f"unknown fault {fault!r}: use a status 400..599 or one of {sorted(NAMED_FAULTS)}"
    )


class FaultInjector:
    """Thread-safe source of the next fault; also counts change-feed requests served."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: deque[Fault] = deque()
        self._random = random.Random()
        self._error_rate = 0.0
        self._statuses: tuple[int, ...] = DEFAULT_STATUSES
        self._drop_rate = 0.0
        self._slow_rate = 0.0
        self._served = 0
        # Plain attributes: tests set them directly, e.g. ``faults.retry_after = 0``.
        self.retry_after = 1
        self.slow_seconds = 5.0

    @property
    def served(self) -> int:
        """Change-feed requests handled so far, faulted ones included."""
        with self._lock:
            return self._served

    def queue(self, *faults: Fault) -> None:
        """Append faults to the FIFO; each change-feed request consumes one."""
        checked = [validate_fault(f) for f in faults]
        with self._lock:
            self._queue.extend(checked)

    @property
    def queued(self) -> list[Fault]:
        with self._lock:
            return list(self._queue)

    def set_rates(
        self,
        error_rate: float = 0.0,
        statuses: Iterable[int] = DEFAULT_STATUSES,
        drop_rate: float = 0.0,
        slow_rate: float = 0.0,
        seed: int | None = None,
    ) -> None:
        """Random faults for soak tests; the three rates are drawn from one roll, so sum <= 1."""
        status_list = tuple(validate_fault(int(s)) for s in statuses)
        rates = (float(error_rate), float(drop_rate), float(slow_rate))
        if any(r < 0 for r in rates) or sum(rates) > 1:
            raise ValueError("rates must be >= 0 and sum to at most 1")
        if error_rate and not status_list:
            raise ValueError("error_rate needs at least one status")
        with self._lock:
            self._error_rate, self._drop_rate, self._slow_rate = rates
            self._statuses = status_list  # type: ignore[assignment]
            self._random = random.Random(seed)

    def clear(self) -> None:
        """Back to no faults at all; the served counter restarts too."""
        with self._lock:
            self._queue.clear()
            self._error_rate = self._drop_rate = self._slow_rate = 0.0
            self._statuses = DEFAULT_STATUSES
            self._served = 0

    def next_fault(self) -> Fault | None:
        """Count one change-feed request and decide its fault (None = answer normally)."""
        with self._lock:
            self._served += 1
            if self._queue:
                return self._queue.popleft()
            roll = self._random.random()
            if roll < self._error_rate:
                return self._random.choice(self._statuses)
            roll -= self._error_rate
            if roll < self._drop_rate:
                return "drop"
            roll -= self._drop_rate
            if roll < self._slow_rate:
                return "slow"
            return None

    def configure(self, settings: Mapping[str, Any]) -> None:
        """Apply the JSON body of ``POST /_admin/faults`` (keys as in the HTTP docs)."""
        known = {"queue", "error_rate", "statuses", "drop_rate", "slow_rate", "seed"}
        known |= {"slow_seconds", "retry_after", "clear"}
        unknown = set(settings) - known
        if unknown:
            raise ValueError(f"unknown keys: {sorted(unknown)}")
        # Validate the queue up front so a bad request changes nothing.
        queued = [validate_fault(f) for f in settings.get("queue", [])]
        if settings.get("clear"):
            self.clear()
        rate_keys = {"error_rate", "statuses", "drop_rate", "slow_rate", "seed"}
        if rate_keys & set(settings):
            self.set_rates(
                error_rate=settings.get("error_rate", 0.0),
                statuses=settings.get("statuses", DEFAULT_STATUSES),
                drop_rate=settings.get("drop_rate", 0.0),
                slow_rate=settings.get("slow_rate", 0.0),
                seed=settings.get("seed"),
            )
        if "slow_seconds" in settings:
            self.slow_seconds = float(settings["slow_seconds"])
        if "retry_after" in settings:
            self.retry_after = int(settings["retry_after"])
        self.queue(*queued)

    def snapshot(self) -> dict[str, Any]:
        """The state as JSON-ready values, for ``GET /_admin/faults``."""
        with self._lock:
            return {
                "served": self._served,
                "queue": list(self._queue),
                "error_rate": self._error_rate,
                "statuses": list(self._statuses),
                "drop_rate": self._drop_rate,
                "slow_rate": self._slow_rate,
                "slow_seconds": self.slow_seconds,
                "retry_after": self.retry_after,
            }
