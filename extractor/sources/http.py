"""The HTTP session every source shares: retries with backoff and jitter, one GET, safe URLs."""

from __future__ import annotations

import time
from collections.abc import Mapping
from urllib.parse import urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter
from requests.auth import AuthBase
from tenacity import retry, retry_if_exception_type, stop_after_attempt, wait_exponential_jitter
from urllib3.exceptions import HTTPError as TransportError
from urllib3.util.retry import Retry

from extractor.sources.errors import MalformedResponse, SourceError, SourceUnreachable

RETRY_STATUSES = (429, 500, 502, 503, 504)


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
    """GET with the session's retries; the answer whatever its status, or a SourceError.

    `timeout` bounds each wait for the server and the whole body: a server that trickles a
    byte at a time, each within the socket's timeout, would otherwise hold the run (and the
    lake's lock) for as long as it likes.
    """
    try:
        response = session.get(url, params=params, headers=headers, timeout=timeout, stream=True)
        _read_body_within(response, timeout)
        return response
    except requests.exceptions.RetryError as error:
        cause = error.__cause__ or error
        raise SourceError(f"{public_url(url)} kept failing after every retry: {cause}") from None
    except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as error:
        raise SourceUnreachable(
            f"no answer from {public_url(url)} after every retry ({type(error).__name__}); "
            "check the URL, the network, and that the service is up"
        ) from None


class PageTimeout(SourceUnreachable):
    """The server sent its answer too slowly: not all of it within the timeout."""


def _read_body_within(response: requests.Response, timeout: float) -> None:
    """Read the streamed body into the response, as requests would, within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    chunks = []
    try:
        with response:
            # read1 returns what has arrived, so the deadline is checked while bytes trickle in.
            while chunk := response.raw.read1(1 << 16, decode_content=True):
                chunks.append(chunk)
                if time.monotonic() > deadline:
                    raise PageTimeout(
                        f"{public_url(response.url)} did not send its whole answer within the"
                        f" timeout ({timeout:g} s; --timeout); the next run reads it again"
                    )
    except TransportError as error:
        raise SourceUnreachable(
            f"{public_url(response.url)} broke off its answer ({type(error).__name__})"
        ) from None
    # Where requests keeps a body it read itself: `content`, `text` and `json()` read it there.
    response._content = b"".join(chunks)


def public_url(url: str) -> str:
    """The server URL without user info, query or fragment: safe to log and to land."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))
