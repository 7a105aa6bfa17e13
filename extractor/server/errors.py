"""The two ways a request ends early: an HTTP error answer, or no answer at all.

They live apart from the handler so the parsers (wire, stow, bulk_update) can refuse a request
without depending on the HTTP plumbing.
"""

from __future__ import annotations


class HttpError(Exception):
    """Answered as a text/plain body with this status and any extra headers."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


class DroppedConnection(Exception):
    """Raised to leave a request without writing a single byte."""
