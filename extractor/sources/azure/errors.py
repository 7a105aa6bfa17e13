"""The Azure DICOM service's error answers, each turned into an error that names its cause."""

from __future__ import annotations

import requests

from extractor.sources.errors import AuthFailure, SourceError
from extractor.sources.http import RETRY_STATUSES


def service_error(response: requests.Response, where: str) -> SourceError:
    """The error for an answer that is not a success, with what to check."""
    status = response.status_code
    detail = response.text.strip()[:300].rstrip(".")
    if status == 400:
        return SourceError(
            f"{where} rejected the request (400 Bad Request): {detail or 'no detail given'}. "
            "Check the time window (startTime/endTime with a time zone, end after start) "
            "and the page size (1 to 200)."
        )
    if status == 401:
        return AuthFailure(
            f"{where} answered 401 Unauthorized: the token is missing, expired or for another "
            "resource. With --auth azure, sign in (az login, a managed identity or "
            "AZURE_CLIENT_ID/AZURE_TENANT_ID/AZURE_CLIENT_SECRET); a local service may need none."
        )
    if status == 403:
        return AuthFailure(
            f"{where} answered 403 Forbidden: the identity is signed in but lacks the "
            "'DICOM Data Reader' role on this DICOM service (assign it in the Azure portal)."
        )
    if status == 404:
        return SourceError(
            f"{where} answered 404 Not Found: is the service URL the service root "
            "(https://<workspace>-<service>.dicom.azurehealthcareapis.com)?"
        )
    if status in RETRY_STATUSES:
        return SourceError(f"{where} still answered {status} after every retry: {detail}")
    return SourceError(f"{where} answered {status}: {detail}")
