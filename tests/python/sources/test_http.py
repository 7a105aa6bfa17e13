"""The shared GET (extractor/sources/http.py) reads bodies the ways servers send them.

It streams each body to hold the whole-page deadline: chunked transfer encoding and gzip, as
the Azure service and proxies in front of it use, must read back whole.
"""

from __future__ import annotations

import gzip
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from extractor.sources import make_session
from extractor.sources.http import send_get

BODY = b"[" + b",".join(b'{"sequence":%d}' % n for n in range(5000)) + b"]"


class ChunkedHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        body = gzip.compress(BODY) if self.path == "/gzip" else BODY
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        if self.path == "/gzip":
            self.send_header("Content-Encoding", "gzip")
        self.end_headers()
        for start in range(0, len(body), 1000):
            part = body[start : start + 1000]
            self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
        self.wfile.write(b"0\r\n\r\n")

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def chunked_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), ChunkedHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("path", ["/plain", "/gzip"])
def test_chunked_and_gzipped_bodies_read_whole(chunked_server: str, path: str) -> None:
    with make_session(None, 0) as session:
        response = send_get(session, chunked_server + path, None, 10)
    assert response.status_code == 200
    assert response.content == BODY
    assert len(response.json()) == 5000
