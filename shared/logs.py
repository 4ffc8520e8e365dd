"""Structured logs: one JSON object per line, configured once at startup.

Fields bound with :func:`log_context` (the topic, partitions and offsets of
the batch being processed, an article id) are added to every line logged
inside it, so a stage's log lines say what they are about without each call
repeating it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

__all__ = ["JsonFormatter", "bind_log_context", "log_context", "logging_config"]

# The bound fields; a dict that is replaced, never changed in place, so a
# shared default is safe.
_CONTEXT: ContextVar[dict[str, Any]] = ContextVar("log_context", default={})  # noqa: B039


def bind_log_context(fields: dict[str, Any]) -> dict[str, Any]:
    """Replace the bound fields with ``fields``; returns the old ones to bind back later.

    For code that cannot hold a ``with`` block open, such as an async
    generator across its ``yield`` (which may be closed from another context).
    """
    previous = _CONTEXT.get()
    _CONTEXT.set(fields)
    return previous


@contextmanager
def log_context(**fields: Any) -> Iterator[None]:
    """Add ``fields`` to every line logged in this block (nested blocks add theirs)."""
    token = _CONTEXT.set({**_CONTEXT.get(), **fields})
    try:
        yield
    finally:
        _CONTEXT.reset(token)


# Attributes every LogRecord has; anything else on a record came from
# ``extra=`` and belongs in the JSON object.
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON line: time, level, logger, event, and its extras."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self._service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "service": self._service,
            "logger": record.name,
            "event": record.getMessage(),
            **_CONTEXT.get(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


def logging_config(service: str, fmt: str, level: str) -> dict[str, Any]:
    """A ``logging.config.dictConfig`` for ``service``: one handler on stderr.

    JSON lines unless ``fmt`` is 'text'. Faust and its libraries log through
    the same root handler, so every line of a worker's log has one shape.
    """
    formatter: dict[str, Any] = (
        {"()": JsonFormatter, "service": service}
        if fmt == "json"
        else {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"main": formatter},
        "handlers": {
            "main": {
                "class": "logging.StreamHandler",
                "formatter": "main",
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"level": level.upper(), "handlers": ["main"]},
    }
