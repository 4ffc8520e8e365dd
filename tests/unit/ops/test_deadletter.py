"""Choosing, de-duplicating and routing dead letters for replay."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from newsflow.deadletter import Letter, distinct, parse_since, replay_target, select
from shared.models import DeadLetter
from shared.topics import Topics

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def _letter(
    stage: str,
    *,
    topic: str | None = "news.raw",
    offset: int | None = 1,
    reason: str = "invalid-message",
    at: datetime = NOW,
) -> DeadLetter:
    return DeadLetter(
        stage=stage, reason=reason, error="e", topic=topic, partition=0 if topic else None,
        offset=offset, key="k", original="e30=", at=at,
    )  # fmt: skip


def test_filters_combine() -> None:
    letters = [
        Letter(0, 0, _letter("cleaner", at=NOW - timedelta(hours=3))),
        Letter(0, 1, _letter("cleaner", reason="timeout")),
        Letter(1, 0, _letter("dedup", topic="news.clean")),
    ]
    assert [e.id for e in select(letters, stage="cleaner")] == ["0:0", "0:1"]
    assert [e.id for e in select(letters, since=NOW - timedelta(hours=1))] == ["0:1", "1:0"]
    assert [e.id for e in select(letters, stage="cleaner", reason="timeout")] == ["0:1"]
    assert [e.id for e in select(letters, ids=("1:0",))] == ["1:0"]


def test_repeats_of_one_failure_count_once() -> None:
    first = Letter(0, 0, _letter("cleaner"))
    again = Letter(3, 9, _letter("cleaner", at=NOW + timedelta(seconds=5)))
    other = Letter(0, 1, _letter("cleaner", offset=2))
    assert distinct([first, again, other]) == [first, other]
    # Letters without coordinates (fetcher source failures) are told apart by content.
    a = Letter(0, 2, _letter("fetcher", topic=None, offset=None))
    b = Letter(0, 3, _letter("fetcher", topic=None, offset=None, reason="timeout"))
    assert distinct([a, a, b]) == [a, b]


def test_each_stage_replays_onto_its_input() -> None:
    topics = Topics("p.")
    assert replay_target(_letter("cleaner"), topics) == "p.news.raw"
    assert replay_target(_letter("dedup"), topics) == "p.news.clean"
    # dedup's internal by-text topic is not where a replay goes: news.clean is.
    assert replay_target(_letter("dedup", topic="app-by-text"), topics) == "p.news.clean"
    assert replay_target(_letter("indexer"), topics) == "p.news.unique"
    assert replay_target(_letter("fetcher", topic="p.news.feeds"), topics) == "p.news.feeds"
    # A fetcher item error describes a page; nothing to put on a topic.
    assert replay_target(_letter("fetcher", topic=None, offset=None), topics) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30m", NOW - timedelta(minutes=30)),
        ("2h", NOW - timedelta(hours=2)),
        ("7d", NOW - timedelta(days=7)),
        ("2026-04-30T10:00:00", datetime(2026, 4, 30, 10, tzinfo=UTC)),
        ("2026-04-30T10:00:00+02:00", datetime(2026, 4, 30, 8, tzinfo=UTC)),
    ],
)
def test_since(text: str, expected: datetime) -> None:
    assert parse_since(text, now=NOW) == expected


def test_since_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="30m"):
        parse_since("yesterday")
