"""HTTP/1.1 plumbing every route shares: bodies, bearer tokens, answers, logging, clean shutdown.

Each request ends in exactly one way: the answer its route sent, an ``HttpError`` as text/plain, a
deliberate drop without a byte, or a 500. One INFO line per request says which. What each path
does is in ``routes``; this module knows nothing about DICOM.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import logging
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

from extractor.server.errors import DroppedConnection, HttpError
from extractor.server.faults import FaultInjector
from extractor.server.options import ServiceOptions
from extractor.server.store import DicomStore

log = logging.getLogger("extractor.server")


def json_bytes(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def _chunk_size(line: bytes) -> int:
    """The size on a chunk's first line (hex, extensions after ';'), or a 400."""
    text = line.split(b";")[0].strip() or b"0"
    try:
        size = int(text, 16)
    except ValueError:
        raise HttpError(400, "Invalid chunk size in a chunked body.") from None
    if size < 0:
        raise HttpError(400, "Invalid chunk size in a chunked body.")
    return size


class Service(Protocol):
    """What the handlers use of the service (app.py's LocalDicomService)."""

    options: ServiceOptions
    store: DicomStore
    faults: FaultInjector

    @property
    def url(self) -> str: ...


class Server(ThreadingHTTPServer):
    """Holds the service state the handlers share, and the open connections for a clean stop."""

    daemon_threads = True

    def __init__(
        self,
        address: tuple[str, int],
        service: Service,
        handler: type[RequestHandler],
    ) -> None:
        self.service = service
        self.operations: dict[str, dict[str, Any]] = {}
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        self.slots = threading.BoundedSemaphore(service.options.max_connections)
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        super().__init__(address, handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        # One thread per connection, up to the cap; past it a connection is closed unanswered.
        if not self.slots.acquire(blocking=False):
            log.warning(
                "refusing a connection from %s: %d open", client_address, len(self.connections)
            )
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()

    def close_connections(self) -> None:
        # Keep-alive handler threads would otherwise keep serving after stop().
        with self.connections_lock:
            for conn in list(self.connections):
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)


class RequestHandler(BaseHTTPRequestHandler):
    """Turns one request into a call of ``_dispatch``, which a subclass provides."""

    protocol_version = "HTTP/1.1"  # keep-alive, like the real service; we always send a length
    server: Server
    _status: int | str  # for the log line: a status, or what happened instead
    _body: bytes
    # Reap idle keep-alive connections eventually.
    timeout = 120

    def _dispatch(self, method: str, path: str) -> None:
        raise NotImplementedError

    # -- connections ----------------------------------------------------------------------------

    def setup(self) -> None:
        super().setup()
        with self.server.connections_lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        with self.server.connections_lock:
            self.server.connections.discard(self.connection)
        super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        # The default logs to stderr; our own single INFO line per request is in _handle.
        pass

    # -- one request ----------------------------------------------------------------------------

    def _handle(self) -> None:
        method = self.command
        started = time.perf_counter()
        self._status = "?"
        try:
            self._body = self._read_body()
            path = unquote(urlsplit(self.path).path).rstrip("/") or "/"
            if path.startswith("/v2"):
                self._check_token()
            self._dispatch(method, path)
        except HttpError as exc:
            self._send_text(exc.status, exc.message, exc.headers)
        except DroppedConnection:
            self._status = "dropped"
            self.close_connection = True
        except (BrokenPipeError, ConnectionResetError):
            self._status = "client gone"
            self.close_connection = True
        except Exception:
            log.exception("error handling %s %s", method, self.path)
            try:
                self._send_text(500, "Internal server error.")
            except OSError:
                self.close_connection = True
        finally:
            elapsed = (time.perf_counter() - started) * 1000
            log.info("%s %s %s %.1fms", method, self.path, self._status, elapsed)

    # Every method goes through routing, so an unknown path is a 404 and a known one a 405.
    do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = _handle

    def _read_body(self) -> bytes:
        limit = self._service.options.max_body_bytes
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks: list[bytes] = []
            total = 0
            while True:
                size = _chunk_size(self.rfile.readline(1024))
                total += size
                if total > limit:
                    self.close_connection = True
                    raise HttpError(413, f"The request body is larger than {limit} bytes.")
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline(1024)
        length = self.headers.get("Content-Length")
        if not length:
            return b""
        if not length.strip().isdigit():
            self.close_connection = True
            raise HttpError(400, "Invalid Content-Length.")
        if int(length) > limit:
            self.close_connection = True  # the body is not read: the connection cannot go on
            raise HttpError(413, f"The request body is larger than {limit} bytes.")
        return self.rfile.read(int(length))

    def _check_token(self) -> None:
        token = self._service.options.require_token
        if token is None:
            return
        scheme, _, given = self.headers.get("Authorization", "").partition(" ")
        # Constant-time, so the comparison does not leak how much of a guess was right.
        ok = scheme.lower() == "bearer" and hmac.compare_digest(
            given.strip().encode(), token.encode()
        )
        if not ok:
            raise HttpError(
                401,
                "Unauthorized: a valid bearer token is required.",
                {"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )

    # -- context for routes ---------------------------------------------------------------------

    @property
    def _service(self) -> Service:
        return self.server.service

    @property
    def _base_url(self) -> str:
        # Links in answers follow the Host the client used, so they work behind port mapping.
        host = self.headers.get("Host") or self._service.url.split("://", 1)[1]
        return f"http://{host}"

    # -- answers --------------------------------------------------------------------------------

    def _send(
        self,
        status: int,
        body: bytes = b"",
        content_type: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self._status = status
        self.send_response(status)
        if content_type and status != 204:
            self.send_header("Content-Type", content_type)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if status != 204:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body and status != 204:
            self.wfile.write(body)

    def _send_text(self, status: int, text: str, headers: dict[str, str] | None = None) -> None:
        self._send(status, text.encode(), "text/plain; charset=utf-8", headers)

    def _send_json(self, status: int, value: Any, content_type: str = "application/json") -> None:
        self._send(status, json_bytes(value), f"{content_type}; charset=utf-8")
