"""The Azure Health Data Services DICOM service: its v2 change feed, read window by window.

`settings.py` (what a run is told), `auth.py` (Entra ID tokens), `errors.py` (the service's error
answers), `timestamps.py` (the feed's 100-ns times), `feed.py` (one window, page by page),
`extract.py` (one run: the window from the watermark, only what has not landed).
"""

from extractor.sources.azure.auth import BearerTokenAuth, azure_auth
from extractor.sources.azure.extract import extract
from extractor.sources.azure.feed import (
    Entry,
    FetchPage,
    http_page_fetcher,
    parse_page,
    read_window,
)
from extractor.sources.azure.settings import AZURE_DICOM_SCOPE, AzureSettings, default_auth

__all__ = [
    "AZURE_DICOM_SCOPE",
    "AzureSettings",
    "BearerTokenAuth",
    "Entry",
    "FetchPage",
    "azure_auth",
    "default_auth",
    "extract",
    "http_page_fetcher",
    "parse_page",
    "read_window",
]
