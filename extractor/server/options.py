"""The settings a caller picks when starting the service.

Kept in a module of its own because both the wire format and the service lifecycle need them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass
class ServiceOptions:
    """Wire variations seen across Azure DICOM services and their docs."""

    key_case: Literal["camel", "pascal"] = "camel"
    enum_case: Literal["pascal", "lower"] = "pascal"
    require_token: str | None = None
    file_path_prefix: str | None = None
    # Bounds, so a client cannot take the memory or the threads of the machine serving it.
    max_body_bytes: int = 64 * 1024 * 1024
    max_connections: int = 64
