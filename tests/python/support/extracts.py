"""One extract from an Azure-like service (the local one) into a lake, as the job runs it."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from requests.auth import AuthBase

from extractor.landing import LandingZone
from extractor.sources import ExtractSummary, make_session
from extractor.sources.azure import AzureSettings, extract, http_page_fetcher


def run_extract(
    service_url: str, lake_dir: Path, auth: AuthBase | None = None, **overrides: Any
) -> ExtractSummary:
    """Land what is new at `service_url` into `lake_dir`; `overrides` are AzureSettings fields."""
    settings = AzureSettings(service_url=service_url, auth="none", lag=timedelta(0), **overrides)
    session = make_session(auth, settings.max_retries)
    fetch = http_page_fetcher(session, service_url, settings.page_size, settings.timeout)
    with session:
        return extract(settings, fetch, LandingZone(lake_dir))
