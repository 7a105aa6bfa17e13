"""Log lines for people (plain) or for log collectors (JSON lines), each tagged with the run id."""

from __future__ import annotations

import contextvars
import json
import logging
import sys
import uuid
from datetime import UTC, datetime
from typing import Any

_run_id: contextvars.ContextVar[str] = contextvars.ContextVar("run_id", default="-")

# Third-party loggers that say too much at INFO (azure-identity logs request details).
_NOISY = ("urllib3", "azure", "msal", "dbt", "deltalake")


def start_run() -> str:
    """A new run id, attached to every log record from here on."""
    run_id = uuid.uuid4().hex[:12]
    _run_id.set(run_id)
    return run_id


def fields(**values: Any) -> dict[str, Any]:
    """Structured values for a record: `log.info("run finished", extra=fields(landed=3))`."""
    return {"fields": values}


class _RunIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.run_id = _run_id.get()
        return True


class PlainFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s run=%(run_id)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extra = getattr(record, "fields", None)
        if extra:
            line += " " + " ".join(f"{key}={_plain(value)}" for key, value in extra.items())
        return line


def _plain(value: Any) -> str:
    """key=value text: words as they are, quoted when they hold spaces; the rest compact JSON."""
    if isinstance(value, str):
        return json.dumps(value) if " " in value else value
    return json.dumps(value, default=str, separators=(",", ":"))


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "run_id": getattr(record, "run_id", "-"),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(getattr(record, "fields", None) or {})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def json_requested(argv: list[str], environment: dict[str, str]) -> bool:
    """Whether a command line asks for JSON logs: for what is printed before it is parsed."""
    for index, argument in enumerate(argv):
        if argument == "--log-format=json":
            return True
        if argument == "--log-format":
            return argv[index + 1 : index + 2] == ["json"]
    return environment.get("DICOM_LAKE_LOG_FORMAT", "").lower() == "json"


def json_line(level: str, message: str, **values: Any) -> str:
    """A log line in JsonFormatter's shape, for what is said outside a logger."""
    entry = {
        "time": datetime.now(UTC).isoformat(),
        "level": level,
        "run_id": _run_id.get(),
        "logger": "extractor.cli",
        "message": message,
        **values,
    }
    return json.dumps(entry, default=str)


def json_logging() -> bool:
    """Whether the log lines are JSON (configure_logging was asked for them)."""
    return any(isinstance(h.formatter, JsonFormatter) for h in logging.getLogger().handlers)


def configure_logging(*, quiet: bool, log_format: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else PlainFormatter())
    handler.addFilter(_RunIdFilter())
    logging.basicConfig(
        level=logging.WARNING if quiet else logging.INFO, handlers=[handler], force=True
    )
    for noisy in _NOISY:
        logging.getLogger(noisy).setLevel(logging.WARNING)
