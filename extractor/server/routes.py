"""What each path of the local DICOM service does: the route table and one method per route.

Routes (``{P}`` is an optional ``/partitions/{partition}``; without it the partition is
``Microsoft.Default``)::

    GET    /v2/changefeed                 GET /v2/changefeed/latest   (one feed, all partitions)
    POST   /v2{P}/studies                 POST /v2{P}/studies/{study}        STOW-RS
    DELETE /v2{P}/studies/{s}[/series/{se}[/instances/{i}]]
    POST   /v2{P}/studies/$bulkUpdate     GET /v2/operations/{id}
    GET    /v2{P}/studies/{s}/series/{se}/instances/{i}/metadata
    GET    /_admin/health                 GET|POST /_admin/faults   (never need a token)

Only the two change-feed routes go through the fault injector (see ``faults``); uploads, deletes
and the rest always answer for real.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from urllib.parse import urlsplit

from extractor.server.bulk_update import finished_operation, parse_bulk_update
from extractor.server.errors import DroppedConnection, HttpError
from extractor.server.handler import RequestHandler, json_bytes
from extractor.server.store import DEFAULT_PARTITION
from extractor.server.stow import store_instances, stow_parts
from extractor.server.wire import feed_entry, parse_feed_query

_PARTITION_RE = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")

# Each path maps methods to a route name; the handler method is ``_route_<name>``.
_P = r"(?:/partitions/(?P<partition>[^/]+))?"
_ROUTES: list[tuple[re.Pattern[str], dict[str, str]]] = [
    (re.compile(p), m)
    for p, m in [
        (r"/v2/changefeed", {"GET": "changefeed"}),
        (r"/v2/changefeed/latest", {"GET": "latest"}),
        (rf"/v2{_P}/studies/\$bulkUpdate", {"POST": "bulk_update"}),
        (rf"/v2{_P}/studies", {"POST": "stow"}),
        (rf"/v2{_P}/studies/(?P<study>[^/]+)", {"POST": "stow", "DELETE": "delete"}),
        (rf"/v2{_P}/studies/(?P<study>[^/]+)/series/(?P<series>[^/]+)", {"DELETE": "delete"}),
        (
            rf"/v2{_P}/studies/(?P<study>[^/]+)/series/(?P<series>[^/]+)"
            r"/instances/(?P<sop>[^/]+)",
            {"DELETE": "delete"},
        ),
        (
            rf"/v2{_P}/studies/(?P<study>[^/]+)/series/(?P<series>[^/]+)"
            r"/instances/(?P<sop>[^/]+)/metadata",
            {"GET": "metadata"},
        ),
        (r"/v2/operations/(?P<operation>[^/]+)", {"GET": "operation"}),
        (r"/_admin/health", {"GET": "health"}),
        (r"/_admin/faults", {"GET": "faults_get", "POST": "faults_post"}),
    ]
]


class Handler(RequestHandler):
    def _dispatch(self, method: str, path: str) -> None:
        for pattern, methods in _ROUTES:
            match = pattern.fullmatch(path)
            if not match:
                continue
            if method not in methods:
                raise HttpError(
                    405,
                    f"Method {method} is not allowed on {path}.",
                    {"Allow": ", ".join(sorted(methods))},
                )
            params = {k: v for k, v in match.groupdict().items() if v is not None}
            partition = params.pop("partition", DEFAULT_PARTITION)
            if not _PARTITION_RE.fullmatch(partition):
                raise HttpError(400, f"Invalid partition name '{partition}'.")
            getattr(self, "_route_" + methods[method])(partition=partition, **params)
            return
        raise HttpError(404, f"No route for {path}.")

    # -- change feed ----------------------------------------------------------------------------

    def _serve_feed(self, answer: Callable[[], tuple[int, bytes]]) -> None:
        """Apply the next fault, if any, around the real answer."""
        faults = self._service.faults
        fault = faults.next_fault()
        if fault == "slow":
            time.sleep(faults.slow_seconds)
        if fault == "drop":
            raise DroppedConnection
        if isinstance(fault, int):
            headers = {"Retry-After": str(faults.retry_after)} if fault in (429, 503) else None
            self._send_text(fault, f"Injected fault: HTTP {fault}.", headers)
            return
        if fault == "html200":
            page = b"<html><head><title>Error</title></head><body><h1>Service Unavailable</h1>"
            page += b"<p>The gateway could not reach the service.</p></body></html>"
            self._send(200, page, "text/html; charset=utf-8")
            return
        status, body = answer()
        if fault == "truncate":
            self._send(200, body[: len(body) // 2], "application/json; charset=utf-8")
        elif status == 204:
            self._send(204)
        else:
            self._send(status, body, "application/json; charset=utf-8")

    def _route_changefeed(self, partition: str) -> None:
        # Parsing happens inside answer() so a queued fault wins even over a bad query.
        def answer() -> tuple[int, bytes]:
            query = parse_feed_query(urlsplit(self.path).query)
            rows = self._service.store.read_feed(
                query.start_ticks,
                query.end_ticks,
                query.offset,
                query.limit,
                query.include_metadata,
            )
            options = self._service.options
            return 200, json_bytes([feed_entry(row, options) for row in rows])

        self._serve_feed(answer)

    def _route_latest(self, partition: str) -> None:
        def answer() -> tuple[int, bytes]:
            query = parse_feed_query(urlsplit(self.path).query, latest=True)
            row = self._service.store.latest(query.include_metadata)
            if row is None:
                return 204, b""
            return 200, json_bytes(feed_entry(row, self._service.options))

        self._serve_feed(answer)

    # -- archive --------------------------------------------------------------------------------

    def _route_stow(self, partition: str, study: str | None = None) -> None:
        files = stow_parts(self.headers.get("Content-Type", ""), self._body)
        status, answer = store_instances(
            self._service.store, self._base_url, partition, study, files
        )
        self._send_json(status, answer, "application/dicom+json")

    def _route_delete(
        self, partition: str, study: str, series: str | None = None, sop: str | None = None
    ) -> None:
        if not self._service.store.delete(partition, study, series, sop):
            raise HttpError(404, "The specified study, series or instance cannot be found.")
        self._send(204)

    def _route_metadata(self, partition: str, study: str, series: str, sop: str) -> None:
        metadata = self._service.store.metadata(partition, study, series, sop)
        if metadata is None:
            raise HttpError(404, "The specified instance cannot be found.")
        self._send_json(200, [metadata], "application/dicom+json")

    def _route_bulk_update(self, partition: str) -> None:
        studies, change = parse_bulk_update(self._body)
        updated = self._service.store.bulk_update(partition, studies, change)
        operation = finished_operation(studies, updated)
        operation_id = operation["operationId"]
        self.server.operations[operation_id] = operation
        href = f"{self._base_url}/v2/operations/{operation_id}"
        self._send_json(202, {"id": operation_id, "href": href})

    def _route_operation(self, partition: str, operation: str) -> None:
        found = self.server.operations.get(operation)
        if found is None:
            raise HttpError(404, f"Operation '{operation}' not found.")
        self._send_json(200, found)

    # -- admin ----------------------------------------------------------------------------------

    def _route_health(self, partition: str) -> None:
        self._send_text(200, "ok")

    def _route_faults_get(self, partition: str) -> None:
        self._send_json(200, self._service.faults.snapshot())

    def _route_faults_post(self, partition: str) -> None:
        try:
            settings = json.loads(self._body or b"{}")
            if not isinstance(settings, dict):
                raise ValueError("the body must be a JSON object")
            self._service.faults.configure(settings)
        except (ValueError, TypeError, RecursionError) as exc:
            raise HttpError(400, f"Bad fault settings: {exc}") from None
        self._send_json(200, self._service.faults.snapshot())
