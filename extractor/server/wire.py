"""The change feed on the wire: query parameters in, entries out.

Parameters bind like ASP.NET's (names case-insensitive) and every bad value is a 400 that names
the parameter, so a client can tell which of its inputs to fix.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from extractor.server.errors import HttpError
from extractor.server.options import ServiceOptions
from extractor.server.store import FeedRow
from extractor.sources.azure.timestamps import MAX_TICKS, MIN_TICKS, parse_timestamp

MAX_LIMIT = 200


@dataclass(frozen=True)
class FeedQuery:
    start_ticks: int = MIN_TICKS
    end_ticks: int = MAX_TICKS
    offset: int = 0
    limit: int = 100
    include_metadata: bool = True


def parse_feed_query(query: str, latest: bool = False) -> FeedQuery:
    """Validate the v2 change-feed parameters; any bad value is a 400 naming the parameter."""
    params = _single_params(query)
    include = _parse_bool("includeMetadata", params.get("includemetadata", "true"))
    if latest:
        return FeedQuery(include_metadata=include)
    start = MIN_TICKS
    end = MAX_TICKS
    if "starttime" in params:
        start = _parse_time("startTime", params["starttime"])
    if "endtime" in params:
        end = _parse_time("endTime", params["endtime"])
    if end <= start:
        raise _invalid("endTime", "it must be after startTime")
    offset = _parse_int("offset", params.get("offset", "0"), 0, None)
    limit = _parse_int("limit", params.get("limit", "100"), 1, MAX_LIMIT)
    return FeedQuery(start, end, offset, limit, include)


def _single_params(query: str) -> dict[str, str]:
    # ASP.NET binds query names case-insensitively; a repeated name is ambiguous, so refuse it.
    params: dict[str, str] = {}
    for name, value in parse_qsl(query, keep_blank_values=True):
        folded = name.lower()
        if folded in params:
            raise HttpError(400, f"The query parameter '{name}' is given more than once.")
        params[folded] = value
    return params


def _invalid(name: str, reason: str) -> HttpError:
    return HttpError(400, f"The query parameter '{name}' is invalid: {reason}.")


def _parse_time(name: str, value: str) -> int:
    # An unencoded '+00:00' arrives as ' 00:00' after form decoding; take the client's meaning.
    value = re.sub(r" (\d{2}:?\d{2})$", r"+\1", value)
    try:
        return parse_timestamp(value)
    except ValueError as exc:
        raise _invalid(name, str(exc)) from None


def _parse_int(name: str, value: str, low: int, high: int | None) -> int:
    # 19 digits is as long as a 64-bit integer gets; anything longer is not a number here.
    if not re.fullmatch(r"[+-]?\d{1,19}", value.strip()):
        raise _invalid(name, f"'{value}' is not an integer")
    number = int(value)
    if number < low or (high is not None and number > high):
        bounds = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise _invalid(name, f"it must be {bounds}")
    return number


def _parse_bool(name: str, value: str) -> bool:
    folded = value.strip().lower()
    if folded not in ("true", "false"):
        raise _invalid(name, "use 'true' or 'false'")
    return folded == "true"


def feed_entry(row: FeedRow, options: ServiceOptions) -> dict[str, Any]:
    """One entry as the wire shows it; absent fields are omitted, never null."""

    def enum(value: str) -> str:
        return value.lower() if options.enum_case == "lower" else value

    entry: dict[str, Any] = {
        "sequence": row.sequence,
        "partitionName": row.partition,
        "studyInstanceUid": row.study,
        "seriesInstanceUid": row.series,
        "sopInstanceUid": row.sop,
        "action": enum(row.action),
        "timestamp": row.timestamp,
        "state": enum(row.state),
    }
    if row.metadata is not None:
        entry["metadata"] = row.metadata
    if options.file_path_prefix:
        name = "/".join((row.partition, row.study, row.series, row.sop))
        entry["filePath"] = f"{options.file_path_prefix.rstrip('/')}/{name}.dcm"
    if options.key_case == "pascal":
        entry = {key[0].upper() + key[1:]: value for key, value in entry.items()}
    return entry
