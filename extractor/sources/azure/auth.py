"""Bearer tokens for the Azure DICOM service, refreshed before they expire.

The token lives only in memory and in the Authorization header; it is never logged or written.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Protocol

import requests
from requests.auth import AuthBase

from extractor.sources.azure.settings import AZURE_DICOM_SCOPE

# Refresh this long before expiry, so a token cannot run out between two pages.
REFRESH_MARGIN_SECONDS = 300


class TokenCredential(Protocol):
    """What azure-identity credentials offer (DefaultAzureCredential and friends)."""

    def get_token(self, *scopes: str, **kwargs: Any) -> Any: ...


class BearerTokenAuth(AuthBase):
    """Adds `Authorization: Bearer` and refreshes the token before expiry or after a 401."""

    def __init__(self, credential: TokenCredential, scope: str = AZURE_DICOM_SCOPE) -> None:
        self._credential = credential
        self._scope = scope
        self._token: str | None = None
        self._expires_on = 0.0
        self._lock = threading.Lock()

    def _current_token(self, force_refresh: bool = False) -> str:
        with self._lock:
            expiring = time.time() >= self._expires_on - REFRESH_MARGIN_SECONDS
            if self._token is None or expiring or force_refresh:
                access = self._credential.get_token(self._scope)
                self._token, self._expires_on = access.token, float(access.expires_on)
            return self._token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self._current_token()}"
        request.register_hook("response", self._retry_once_after_401)
        return request

    def _retry_once_after_401(
        self, response: requests.Response, **kwargs: Any
    ) -> requests.Response:
        # A token can be revoked or expire early; one fresh token is worth one more try.
        if response.status_code != 401 or getattr(response.request, "_token_refreshed", False):
            return response
        retry = response.request.copy()
        retry.headers["Authorization"] = f"Bearer {self._current_token(force_refresh=True)}"
        retry._token_refreshed = True  # type: ignore[attr-defined]
        response.content  # noqa: B018 -- drain the body so the connection can be reused
        response.close()
        connection = response.connection  # type: ignore[attr-defined]
        second = connection.send(retry, **kwargs)
        second.history.append(response)
        second.request = retry
        return second


def azure_auth() -> BearerTokenAuth:
    """DefaultAzureCredential: environment, workload or managed identity, Azure CLI login."""
    from azure.identity import DefaultAzureCredential

    return BearerTokenAuth(DefaultAzureCredential())
