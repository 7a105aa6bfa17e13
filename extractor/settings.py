"""Run settings: plain values the core functions take. The command line fills them in."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

AZURE_DICOM_SCOPE = "https://dicom.healthcareapis.azure.com/.default"
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> timedelta:
    """'15m', '90s', '1h', '0' -> timedelta; a bare number means seconds."""
    match = _DURATION.match(text)
    if match is None:
        raise ValueError(f"not a duration: {text!r} (use e.g. 90s, 15m, 1h, 2d)")
    value, unit = match.groups()
    return timedelta(seconds=float(value) * _UNIT_SECONDS[unit or "s"])


def public_url(url: str) -> str:
    """The service URL without user info, query or fragment: safe to log and to land."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))


def default_auth(url: str) -> str:
    """Loopback services (the bundled local one) need no token; anything else is Azure."""
    return "none" if urlsplit(url).hostname in LOOPBACK_HOSTS else "azure"


@dataclass(frozen=True)
class ExtractSettings:
    service_url: str
    lake_dir: Path
    auth: str = "azure"  # "azure" (DefaultAzureCredential) or "none"
    lag: timedelta = timedelta(minutes=15)  # the window ends this long before now
    overlap: timedelta = timedelta(minutes=15)  # re-read this much before the watermark
    start_time: datetime | None = None  # where a first run starts; None: the feed's beginning
    page_size: int = 200
    batch_size: int = 5000  # entries per landed Parquet file
    timeout: float = 60.0  # seconds to wait for a page
    max_retries: int = 8

    def __post_init__(self) -> None:
        if not 1 <= self.page_size <= 200:
            raise ValueError(
                f"page size must be 1 to 200 (the service's limit), not {self.page_size}"
            )
        if self.batch_size < 1:
            raise ValueError(f"batch size must be positive, not {self.batch_size}")
        if self.auth not in {"azure", "none"}:
            raise ValueError(f"auth must be 'azure' or 'none', not {self.auth!r}")
        if self.lag < timedelta(0) or self.overlap < timedelta(0):
            raise ValueError("lag and overlap cannot be negative")
        scheme = urlsplit(self.service_url).scheme
        if scheme not in {"http", "https"}:
            shown = public_url(self.service_url)
            raise ValueError(f"the service URL must start with https:// or http://: {shown!r}")
