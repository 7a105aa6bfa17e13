"""A change feed served from a script, on 127.0.0.1: for what the local service never sends.

Entries are JSON text, so a test can send what Python's json module would not write (a lone
surrogate's escape); `honour_window=False` plays a service that returns entries past `endTime`;
`trickle` sends each answer a byte at a time, so slowly that only a whole-page deadline ends it.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from extractor.sources.azure.timestamps import parse_timestamp


def entry_text(sequence: int, timestamp: str, study: str = "1.2", **fields: Any) -> str:
    """One Create entry with metadata, as JSON text; `fields` override or add wire fields."""
    entry = {
        "sequence": sequence,
        "studyInstanceUid": study,
        "seriesInstanceUid": f"{study}.1",
        "sopInstanceUid": f"{study}.1.{sequence}",
        "action": "Create",
        "timestamp": timestamp,
        "state": "Current",
        "partitionName": "Microsoft.Default",
        "metadata": {"0020000D": {"vr": "UI", "Value": [study]}},
        **fields,
    }
    return json.dumps(entry)


@dataclass
class ScriptedFeed:
    """What the server answers, and what it was asked."""

    entries: list[str]
    honour_window: bool = True
    trickle: float | None = None  # seconds between the bytes of an answer
    requests: list[dict[str, str]] = field(default_factory=list)

    def page(self, query: dict[str, str]) -> bytes:
        self.requests.append(query)
        start = parse_timestamp(query.get("startTime", "0001-01-01T00:00:00Z"))
        end = parse_timestamp(query.get("endTime", "9999-12-31T23:59:59Z"))
        chosen = [
            text
            for text in self.entries
            if not self.honour_window
            or start <= parse_timestamp(json.loads(text)["timestamp"]) < end
        ]
        offset, limit = int(query.get("offset", 0)), int(query.get("limit", 100))
        return ("[" + ",".join(chosen[offset : offset + limit]) + "]").encode()


@contextmanager
def serve_feed(feed: ScriptedFeed) -> Iterator[str]:
    """Serve `feed` at /v2/changefeed on a free 127.0.0.1 port; yields the service URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            query = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}
            body = feed.page(query)
            self.send_response(200)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if feed.trickle is None:
                self.wfile.write(body)
                return
            for byte in body:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(feed.trickle)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
