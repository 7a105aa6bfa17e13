"""The HTTP session: retries with backoff and jitter, and errors that name their cause."""

from __future__ import annotations

from collections.abc import Mapping

import requests
from requests.adapters import HTTPAdapter
from requests.auth import AuthBase
from tenacity import retry, retry_if_exception_type, stop_after_attempt, wait_exponential_jitter
from urllib3.util.retry import Retry

from extractor.settings import public_url

RETRY_STATUSES = (429, 500, 502, 503, 504)


class SourceError(Exception):
    """The change feed could not be read; the message says why and what to check."""


class SourceUnreachable(SourceError):
    """No answer (connection refused, timeouts, dropped connections) after every retry."""


class AuthFailure(SourceError):
    """401 or 403: a token problem or a missing role."""


class MalformedResponse(SourceError):
    """A 200 answer that is not the JSON the feed promises (truncated, or an HTML page)."""


def make_session(auth: AuthBase | None, max_retries: int) -> requests.Session:
    """A session that retries connection errors, timeouts and 429/5xx, honouring Retry-After."""
    retry = Retry(
        total=max_retries,
        status_forcelist=RETRY_STATUSES,
        allowed_methods={"GET"},
        backoff_factor=0.5,
        backoff_max=30,
        backoff_jitter=0.5,
        respect_retry_after_header=True,
        retry_after_max=120,
        raise_on_status=False,
    )
    session = requests.Session()
    session.mount("http://", HTTPAdapter(max_retries=retry))
    session.mount("https://", HTTPAdapter(max_retries=retry))
    session.auth = auth
    session.headers["Accept"] = "application/json"
    return session


# A 200 answer with a truncated or HTML body passes the transport's retries: read it again.
retry_malformed = retry(
    retry=retry_if_exception_type(MalformedResponse),
    stop=stop_after_attempt(4),
    wait=wait_exponential_jitter(multiplier=0.5, max=10),
    reraise=True,
)


def send_get(
    session: requests.Session,
    url: str,
    params: Mapping[str, str] | None,
    timeout: float,
    headers: Mapping[str, str] | None = None,
) -> requests.Response:
    """GET with the session's retries; the answer whatever its status, or a SourceError."""
    try:
        return session.get(url, params=params, headers=headers, timeout=timeout)
    except requests.exceptions.RetryError as error:
        cause = error.__cause__ or error
        raise SourceError(f"{public_url(url)} kept failing after every retry: {cause}") from None
    except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as error:
        raise SourceUnreachable(
            f"no answer from {public_url(url)} after every retry ({type(error).__name__}); "
            "check the URL, the network, and that the service is up"
        ) from None


def get(
    session: requests.Session, url: str, params: Mapping[str, str], timeout: float
) -> requests.Response:
    """send_get for the change feed: any answer but a success is a SourceError naming the cause."""
    response = send_get(session, url, params, timeout)
    if response.ok:
        return response
    raise _status_error(response, public_url(url))


def _status_error(response: requests.Response, where: str) -> SourceError:
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
