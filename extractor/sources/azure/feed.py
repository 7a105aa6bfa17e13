"""Reading the Azure v2 change feed: one time window, page by page, entries in landing shape.

Paging keeps the window's end fixed and moves its start to the last timestamp seen, skipping
the entries already seen at that timestamp. That is the documented `offset`-inside-a-window
paging, with offsets kept small: the service reads offset + limit rows for every page.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import requests

from extractor.sources.azure.errors import service_error
from extractor.sources.azure.timestamps import (
    MAX_TICKS,
    MIN_TICKS,
    format_ticks,
    parse_timestamp,
    ticks_to_datetime,
)
from extractor.sources.errors import MalformedResponse
from extractor.sources.http import public_url, retry_malformed, send_get

_ACTIONS = {"create": "Create", "update": "Update", "delete": "Delete"}
_STATES = {"current": "Current", "replaced": "Replaced", "deleted": "Deleted"}
_FIELDS = {  # wire name, lowercased -> landing column
    "sequence": "sequence",
    "timestamp": "timestamp",
    "action": "action",
    "state": "state",
    "partitionname": "partition_name",
    "studyinstanceuid": "study_instance_uid",
    "seriesinstanceuid": "series_instance_uid",
    "sopinstanceuid": "sop_instance_uid",
    "filepath": "file_path",
}
_WHITESPACE = re.compile(r"[ \t\n\r]*")
_decoder = json.JSONDecoder()
# A match is the entry's own metadata key once the object after it is proven to end where the
# entry's last object ends: a key nested deeper would be followed by its parent's '}'.
_METADATA_KEY = re.compile(r'"(?i:metadata)"[ \t\n\r]*:[ \t\n\r]*')
# Every byte but quotes and brackets, for bytes.translate: what is left is the document's shape.
_NOT_SHAPE = bytes(byte for byte in range(256) if byte not in b'"{}[]')


@dataclass(frozen=True)
class Entry:
    """One change-feed entry, in landing column names; `metadata` is the raw JSON text."""

    ticks: int
    row: dict[str, Any]

    @property
    def sequence(self) -> int:
        return int(self.row["sequence"])


def parse_page(text: str) -> list[Entry]:
    """A page of the feed -> entries, keeping each metadata document's text exactly as sent.

    The top level is walked by hand so the metadata's span can be cut from the page
    unchanged: re-serialising it could change how numbers are written.
    """
    try:
        return list(_walk_page(text))
    except (ValueError, IndexError) as error:  # scanstring's ValueError: cut after a ',' or '{'
        raise MalformedResponse(f"the change feed page is not valid JSON ({error})") from None


def _walk_page(text: str) -> Iterator[Entry]:
    starts = _EntryStarts(text)
    position = _skip(text, 0)
    if text[position] != "[":
        raise MalformedResponse(
            f"the change feed page is not a JSON array (it starts with {text[:40]!r})"
        )
    position = _skip(text, position + 1)
    if text[position] == "]":
        _expect_end(text, position + 1)
        return
    while True:
        entry, position = _walk_entry(text, position, starts)
        yield entry
        position = _skip(text, position)
        if text[position] == "]":
            _expect_end(text, position + 1)
            return
        if text[position] != ",":
            raise json.JSONDecodeError("expected ',' or ']'", text, position)
        position = _skip(text, position + 1)


def _walk_entry(text: str, position: int, starts: _EntryStarts) -> tuple[Entry, int]:
    return _cut_entry(text, position, starts) or _walk_fields(text, position)


def _cut_entry(text: str, start: int, starts: _EntryStarts) -> tuple[Entry, int] | None:
    """The entry at `start` from one decode of its fields with the metadata cut out, or None.

    The guesses (where the entry and its metadata end) are kept only when the metadata is one
    object and the rest decodes to exactly one object; otherwise the fields are walked one by one.
    """
    starts.learn(text[start : text.find(":", start) + 1])
    entry_close = text.rfind("}", start, starts.after(start + 1))
    if entry_close < 0:
        return None
    metadata_end = text.rfind("}", start, entry_close) + 1
    key = _METADATA_KEY.search(text, start, metadata_end)
    if key is None or not is_one_object(text[key.end() : metadata_end]):
        return None
    if _METADATA_KEY.search(text, metadata_end, entry_close):
        return None  # a second metadata key: the walk decides which one counts
    rest = text[start : key.end()] + "null" + text[metadata_end : entry_close + 1]
    try:
        fields = json.loads(rest)
    except json.JSONDecodeError:
        return None
    folded = {name.lower(): value for name, value in fields.items()}
    if len(folded) != len(fields) or "metadata" not in folded:
        return None  # keys differing only in case: the walk decides which one counts
    del folded["metadata"]
    return _to_entry(folded, text[key.end() : metadata_end]), entry_close + 1


def _walk_fields(text: str, position: int) -> tuple[Entry, int]:
    if text[position] != "{":
        raise MalformedResponse("a change feed entry is not a JSON object")
    fields: dict[str, Any] = {}
    metadata: str | None = None
    position = _skip(text, position + 1)
    if text[position] == "}":
        return _to_entry(fields, metadata), position + 1
    while True:
        key, position = json.decoder.scanstring(text, position + 1)  # type: ignore[attr-defined]
        position = _skip(text, position)
        if text[position] != ":":
            raise json.JSONDecodeError("expected ':'", text, position)
        position = _skip(text, position + 1)
        start = position
        value, position = _decoder.raw_decode(text, position)
        if key.lower() == "metadata":
            metadata = None if value is None else text[start:position]
        else:
            fields[key.lower()] = value
        position = _skip(text, position)
        if text[position] == "}":
            return _to_entry(fields, metadata), position + 1
        if text[position] != ",":
            raise json.JSONDecodeError("expected ',' or '}'", text, position)
        position = _skip(text, position + 1)


def is_one_object(span: str) -> bool:
    """Whether `span` is a single JSON object, judged by its strings and brackets only.

    It does not check what lies between them (numbers, commas): the walk around it checks the
    page's own structure, and that is what a truncated or non-JSON answer breaks.
    """
    if "\\" in span:
        # Same length, so escaped quotes and backslashes no longer look like string ends.
        span = span.replace("\\\\", "__").replace('\\"', "__")
    # With strings bracket-free, every quote pairs with its neighbour and drops out; a quote
    # left over means a string holds a bracket, and brackets alone no longer tell the shape.
    shape = span.encode().translate(None, _NOT_SHAPE).replace(b'""', b"")
    if b'"' in shape or shape[:1] != b"{" or shape[-1:] != b"}":
        return False
    inside = shape[1:-1]
    while inside:
        nested = inside.replace(b"[]", b"").replace(b"{}", b"")
        if nested == inside:
            return False  # unbalanced, or closed before the end: more than one value
        inside = nested
    return True


class _EntryStarts:
    """Where the next entry starts, found by how the entry before it opened (`{"sequence":`)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.opening = ""
        self.none_after = len(text)

    def learn(self, opening: str) -> None:
        if opening != self.opening:
            self.opening, self.none_after = opening, len(self.text)

    def after(self, position: int) -> int:
        """The next entry's start after `position`, or the end of the page if there is none."""
        if self.opening and position < self.none_after:
            found = self.text.find(self.opening, position)
            if found >= 0:
                return found
            self.none_after = position  # the page's last entry: no need to search again
        return len(self.text)


def _skip(text: str, position: int) -> int:
    return _WHITESPACE.match(text, position).end()  # type: ignore[union-attr]


def _expect_end(text: str, position: int) -> None:
    if _skip(text, position) != len(text):
        raise json.JSONDecodeError("extra data after the array", text, position)


def _to_entry(fields: dict[str, Any], metadata: str | None) -> Entry:
    """Lowercased wire keys -> landing columns; omitted fields become None."""
    row: dict[str, Any] = {column: fields.get(wire) for wire, column in _FIELDS.items()}
    if not isinstance(row["sequence"], int) or isinstance(row["sequence"], bool):
        raise MalformedResponse(f"a change feed entry has no integer sequence: {row!r}"[:300])
    if not 0 <= row["sequence"] < 2**63:
        raise MalformedResponse(f"entry sequence {row['sequence']} is outside 0 .. 2^63 - 1")
    if not isinstance(row["timestamp"], str):
        raise MalformedResponse(f"entry {row['sequence']} has no timestamp")
    try:
        ticks = parse_timestamp(row["timestamp"])
    except ValueError as error:
        raise MalformedResponse(f"entry {row['sequence']}: {error}") from None
    if not MIN_TICKS <= ticks <= MAX_TICKS:
        raise MalformedResponse(
            f"entry {row['sequence']}: {row['timestamp']} is outside years 0001 to 9999 in UTC"
        )
    row["timestamp"] = ticks_to_datetime(ticks)
    row["action"] = _canonical(row["action"], _ACTIONS)
    row["state"] = _canonical(row["state"], _STATES)
    for column in ("partition_name", "study_instance_uid", "series_instance_uid",
                   "sop_instance_uid", "file_path"):  # fmt: skip
        if row[column] is not None:
            row[column] = str(row[column])
    row["metadata"] = metadata
    return Entry(ticks=ticks, row=row)


def _canonical(value: Any, known: dict[str, str]) -> str | None:
    """Known enum values in their canonical case; anything else kept as sent, for the models."""
    if value is None:
        return None
    return known.get(str(value).lower(), str(value))


FetchPage = Callable[[int, int, int], list[Entry]]


def http_page_fetcher(
    session: requests.Session, service_url: str, page_size: int, timeout: float
) -> FetchPage:
    """fetch(start_ticks, end_ticks, offset) -> entries, from `{service}/v2/changefeed`."""
    url = service_url.rstrip("/") + "/v2/changefeed"

    @retry_malformed
    def fetch(start: int, end: int, offset: int) -> list[Entry]:
        params = {
            "startTime": format_ticks(start),
            "endTime": format_ticks(end),
            "offset": str(offset),
            "limit": str(page_size),
            "includeMetadata": "true",
        }
        response = send_get(session, url, params, timeout)
        if not response.ok:
            raise service_error(response, public_url(url))
        content_type = response.headers.get("Content-Type", "")
        if "json" not in content_type.lower():
            raise MalformedResponse(
                f"the change feed answered 200 with {content_type or 'no content type'}, not JSON"
            )
        return parse_page(response.text)

    return fetch


def read_window(
    fetch: FetchPage, start: int, end: int, page_size: int
) -> Generator[list[Entry], None, None]:
    """Every entry with start <= timestamp < end, a page at a time, until a page is not full.

    Every page read is yielded, the last one even when empty, so callers can count requests.
    The next page is requested before a page is yielded, so the service works on it while the
    caller lands this one; its errors are raised here, when the caller asks for that page.
    """
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="changefeed") as reader:
        cursor, skip = start, 0
        pending = reader.submit(fetch, cursor, end, skip)
        try:
            while True:
                page = pending.result()
                if len(page) < page_size:
                    yield page
                    return
                cursor, skip = next_cursor(page, cursor, skip)
                pending = reader.submit(fetch, cursor, end, skip)
                yield page
        finally:
            # The caller failed or stopped early: the page in flight is not wanted.
            pending.cancel()


def next_cursor(page: list[Entry], cursor: int, skip: int) -> tuple[int, int]:
    """Where the page after a full `page` starts: its last timestamp, past the entries there."""
    last = page[-1].ticks
    if last == cursor:
        return cursor, skip + len(page)
    return last, sum(1 for entry in page if entry.ticks == last)
