"""Skipped input messages are caught before anything past them is acknowledged."""

from __future__ import annotations

from collections.abc import Mapping
from types import SimpleNamespace
from typing import Any

import pytest
from faust.types import TP

from shared import kafka
from shared.offsets import Gap, InputOrder

A = TP("news.clean", 0)
B = TP("news.clean", 1)


def _events(*offsets: tuple[TP, int], generation: int = 3) -> list[Any]:
    return [
        SimpleNamespace(
            message=SimpleNamespace(tp=tp, offset=offset, generation_id=generation, acked=False)
        )
        for tp, offset in offsets
    ]


def test_consecutive_batches_have_no_gap() -> None:
    order = InputOrder()
    assert order.check(_events((A, 23), (B, 11), (A, 24)), {}) == []
    assert order.check(_events((B, 12), (A, 25), (A, 26)), {}) == []


def test_a_message_missing_between_batches_is_a_gap() -> None:
    # As in CI: p4 35 ended a batch, 36 never came, 37 began the next.
    order = InputOrder()
    order.check(_events((A, 34), (A, 35), (B, 23)), {})
    assert order.check(_events((A, 37), (B, 24), (A, 38)), {}) == [Gap(A, 36, 37)]


def test_a_message_missing_inside_a_batch_is_a_gap() -> None:
    order = InputOrder()
    gaps = order.check(_events((A, 30), (B, 5), (A, 33)), {})
    assert gaps == [Gap(A, 31, 33)]
    assert str(gaps[0]) == "news.clean:0 offsets 31-32"


def test_messages_read_again_are_no_gap() -> None:
    # The same fetch delivered again after the consumer moved: let through.
    order = InputOrder()
    order.check(_events((A, 37), (A, 38), (A, 39)), {})
    assert order.check(_events((A, 39), (A, 40)), {}) == []
    assert order.check(_events((A, 38), (A, 39), (A, 42)), {}) == [Gap(A, 41, 42)]


def test_a_new_generation_starts_at_the_committed_offset() -> None:
    order = InputOrder()
    order.check(_events((A, 10), (A, 11)), {})
    # Another worker owned the partition meanwhile and moved it on.
    first = _events((A, 57), (B, 4), generation=4)
    assert order.starting(first) == [A, B]
    assert order.check(first, {A: 57, B: 5}) == []  # B: its message 4 read again
    assert order.starting(_events((A, 58), generation=4)) == []
    assert order.check(_events((A, 59), generation=4), {}) == [Gap(A, 58, 59)]


def test_a_first_message_skipped_after_an_assignment_is_a_gap() -> None:
    # Seen in a local run: the router's first order message after a rebalance
    # never reached it, and the next one was committed over it.
    order = InputOrder()
    assert order.check(_events((A, 228), (A, 229)), {A: 227}) == [Gap(A, 227, 228)]
    # Unknown committed offsets (nothing committed yet, or no broker): unchecked.
    assert order.check(_events((B, 5)), {B: None}) == []


class _Consumer:
    def __init__(self, earliest: Mapping[TP, int]) -> None:
        self.earliest = earliest

    async def earliest_offsets(self, *tps: TP) -> Mapping[TP, int]:
        return {tp: self.earliest.get(tp, 0) for tp in tps}


class _Metrics:
    def __init__(self) -> None:
        self.errors: list[str] = []

    def error(self, kind: str) -> None:
        self.errors.append(kind)


@pytest.fixture
def restarts(monkeypatch: pytest.MonkeyPatch) -> tuple[list[int], _Metrics]:
    calls: list[int] = []
    metrics = _Metrics()
    monkeypatch.setattr(kafka, "_restart", lambda: calls.append(1))
    monkeypatch.setattr(kafka, "metrics_for", lambda app: metrics)
    return calls, metrics


async def test_an_unexplained_gap_restarts_the_worker(
    restarts: tuple[list[int], _Metrics], caplog: pytest.LogCaptureFixture
) -> None:
    calls, metrics = restarts
    app: Any = SimpleNamespace(consumer=_Consumer({A: 0}))
    await kafka._skipped(app, [Gap(A, 36, 37)])
    assert calls == [1]
    assert metrics.errors == ["skipped-input"]
    [record] = [r for r in caplog.records if "skipped" in r.getMessage()]
    assert record.gaps == ["news.clean:0 offsets 36-36"]  # type: ignore[attr-defined]


async def test_a_gap_the_retention_deleted_goes_on(restarts: tuple[list[int], _Metrics]) -> None:
    calls, metrics = restarts
    # Offsets before 500 are gone: a consumer that fell behind jumps ahead.
    app: Any = SimpleNamespace(consumer=_Consumer({A: 500}))
    await kafka._skipped(app, [Gap(A, 36, 500)])
    assert calls == []
    assert metrics.errors == []
