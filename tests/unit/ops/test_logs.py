"""Log lines carry the fields bound around them."""

from __future__ import annotations

import json
import logging

from shared.kafka import offset_ranges
from shared.logs import JsonFormatter, bind_log_context, log_context
from tests.unit.ops.test_metrics import _events


def _line(**extra: object) -> dict[str, object]:
    record = logging.makeLogRecord({"msg": "dead-lettered", "levelno": 30, "levelname": "WARNING"})
    for key, value in extra.items():
        setattr(record, key, value)
    return dict(json.loads(JsonFormatter("cleaner").format(record)))


def test_bound_fields_join_every_line_and_leave_after_the_block() -> None:
    with log_context(topic="news.raw"), log_context(partition=3, offset=7):
        line = _line(reason="timeout")
    assert (line["topic"], line["partition"], line["offset"], line["reason"]) == (
        "news.raw",
        3,
        7,
        "timeout",
    )
    assert "topic" not in _line()


def test_bind_returns_what_to_bind_back() -> None:
    outer = bind_log_context({"topic": "news.clean"})
    assert _line()["topic"] == "news.clean"
    bind_log_context(outer)
    assert "topic" not in _line()


def test_offset_ranges_per_partition() -> None:
    events = _events("t", 2, range(5, 9)) + _events("t", 0, range(1, 2))
    assert offset_ranges(events) == {0: "1-1", 2: "5-8"}  # type: ignore[arg-type]
