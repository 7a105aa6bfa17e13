"""The Azure DICOM service source's settings: plain values; the command line fills them in."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from extractor.sources.http import public_url

AZURE_DICOM_SCOPE = "https://dicom.healthcareapis.azure.com/.default"
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}


def default_auth(url: str) -> str:
    """Loopback services (the bundled local one) need no token; anything else is Azure."""
    return "none" if urlsplit(url).hostname in LOOPBACK_HOSTS else "azure"


@dataclass(frozen=True)
class AzureSettings:
    service_url: str
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
