"""The Orthanc source's settings and its HTTP basic credentials (from the environment only)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from requests.auth import HTTPBasicAuth

from extractor.sources.http import public_url

USERNAME_ENV, PASSWORD_ENV = "ORTHANC_USERNAME", "ORTHANC_PASSWORD"


@dataclass(frozen=True)
class OrthancSettings:
    url: str
    page_size: int = 1000  # /changes entries per request
    list_page_size: int = 10_000  # instance ids per /instances request (reconciliation)
    batch_size: int = 5000  # entries per landed Parquet file
    timeout: float = 60.0  # seconds to wait for one answer
    max_retries: int = 8
    reconcile_every: int = 1  # reconcile every N runs; 0: never
    reconcile_check: bool = True  # first compare /statistics counts; list only on a difference

    def __post_init__(self) -> None:
        if not 1 <= self.page_size <= 10_000:
            raise ValueError(f"page size must be 1 to 10000, not {self.page_size}")
        if not 1 <= self.list_page_size <= 1_000_000:
            raise ValueError(f"list page size must be 1 to 1000000, not {self.list_page_size}")
        if self.batch_size < 1:
            raise ValueError(f"batch size must be positive, not {self.batch_size}")
        if self.reconcile_every < 0:
            raise ValueError(
                f"reconcile every must be 0 (never) or more, not {self.reconcile_every}"
            )
        if not self.url.startswith(("http://", "https://")):
            raise ValueError(
                f"the Orthanc URL must start with http:// or https://: {public_url(self.url)!r}"
            )


def basic_auth_from_env(environ: Mapping[str, str] | None = None) -> HTTPBasicAuth | None:
    """HTTP basic credentials from ORTHANC_USERNAME / ORTHANC_PASSWORD, or None when both unset."""
    environ = os.environ if environ is None else environ
    username, password = environ.get(USERNAME_ENV), environ.get(PASSWORD_ENV)
    if not username and not password:
        return None
    if not username or password is None:
        raise ValueError(f"set both {USERNAME_ENV} and {PASSWORD_ENV}, or neither")
    return HTTPBasicAuth(username, password)
