"""Skipped input messages are read again before anything past them is handed over."""

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


def _offsets(events: list[Any]) -> list[tuple[int, int]]:
    return [(e.message.tp.partition, e.message.offset) for e in events]


def test_consecutive_batches_are_handed_over_whole() -> None:
    order = InputOrder()
    kept, dropped, gaps = order.sort(_events((A, 23), (B, 11), (A, 24)), {})
    assert (_offsets(kept), dropped, gaps) == ([(0, 23), (1, 11), (0, 24)], [], [])
    kept, dropped, gaps = order.sort(_events((B, 12), (A, 25), (A, 26)), {})
    assert (len(kept), dropped, gaps) == (3, [], [])


def test_messages_past_a_gap_wait_until_the_missing_one_comes() -> None:
    # As in CI: p4 35 ended a batch, 36 never came, 37 began the next.
    order = InputOrder()
    order.sort(_events((A, 34), (A, 35), (B, 23)), {})
    kept, dropped, gaps = order.sort(_events((A, 37), (B, 24), (A, 38)), {})
    assert gaps == [Gap(A, 36, 37)] and str(gaps[0]) == "news.clean:0 offsets 36-36"
    assert _offsets(kept) == [(1, 24)]
    assert _offsets(dropped) == [(0, 37), (0, 38)]
    # The rest of the old fetch still comes: dropped, no second gap.
    kept, dropped, gaps = order.sort(_events((A, 39), (B, 25)), {})
    assert (_offsets(kept), _offsets(dropped), gaps) == ([(1, 25)], [(0, 39)], [])
    # Read again from 36 after the move back.
    kept, dropped, gaps = order.sort(_events((A, 36), (A, 37), (A, 38)), {})
    assert (_offsets(kept), dropped, gaps) == ([(0, 36), (0, 37), (0, 38)], [], [])


def test_messages_read_again_are_handed_over() -> None:
    # The same fetch delivered again after the consumer moved: let through.
    order = InputOrder()
    order.sort(_events((A, 37), (A, 38), (A, 39)), {})
    kept, _, gaps = order.sort(_events((A, 39), (A, 40)), {})
    assert (len(kept), gaps) == (2, [])
    _, dropped, gaps = order.sort(_events((A, 38), (A, 39), (A, 42)), {})
    assert gaps == [Gap(A, 41, 42)] and _offsets(dropped) == [(0, 42)]


def test_a_new_generation_starts_at_the_committed_offset() -> None:
    order = InputOrder()
    order.sort(_events((A, 10), (A, 11)), {})
    # Another worker owned the partition meanwhile and moved it on.
    first = _events((A, 57), (B, 4), generation=4)
    assert order.starting(first) == [A, B]
    kept, _, gaps = order.sort(first, {A: 57, B: 5})  # B: its message 4 read again
    assert (len(kept), gaps) == (2, [])
    assert order.starting(_events((A, 58), generation=4)) == []


def test_a_first_message_skipped_after_an_assignment_is_a_gap() -> None:
    # Seen in a local run: the router's first order message after a rebalance
    # never reached it, and the next one was committed over it.
    order = InputOrder()
    kept, dropped, gaps = order.sort(_events((A, 228), (A, 229)), {A: 227})
    assert (kept, len(dropped), gaps) == ([], 2, [Gap(A, 227, 228)])
    # Unknown committed offsets (nothing committed yet, or no broker): unchecked.
    kept, _, gaps = order.sort(_events((B, 5)), {B: None})
    assert (len(kept), gaps) == (1, [])


def test_a_gap_deleted_by_retention_is_jumped() -> None:
    order = InputOrder()
    order.sort(_events((A, 30)), {})
    _, _, [gap] = order.sort(_events((A, 500)), {})
    order.jump(gap, 500)
    kept, _, gaps = order.sort(_events((A, 500), (A, 501)), {})
    assert (len(kept), gaps) == (2, [])


class _Consumer:
    def __init__(self, earliest: Mapping[TP, int]) -> None:
        self.earliest = earliest
        self.seeks: list[tuple[TP, int]] = []

    async def earliest_offsets(self, *tps: TP) -> Mapping[TP, int]:
        return {tp: self.earliest.get(tp, 0) for tp in tps}

    async def seek_wait(self, offsets: Mapping[TP, int]) -> None:
        self.seeks.extend(offsets.items())


class _Metrics:
    def __init__(self) -> None:
        self.errors: list[str] = []

    def error(self, kind: str) -> None:
        self.errors.append(kind)


@pytest.fixture
def metrics(monkeypatch: pytest.MonkeyPatch) -> _Metrics:
    found = _Metrics()
    monkeypatch.setattr(kafka, "metrics_for", lambda app: found)
    return found


async def test_a_gap_moves_the_consumer_back_to_read_it_again(
    metrics: _Metrics, caplog: pytest.LogCaptureFixture
) -> None:
    consumer = _Consumer({A: 0})
    order = InputOrder()
    order.sort(_events((A, 35)), {})
    _, _, gaps = order.sort(_events((A, 37)), {})
    await kafka._read_again(SimpleNamespace(consumer=consumer), order, gaps)  # type: ignore[arg-type]
    assert consumer.seeks == [(A, 36)]
    assert metrics.errors == ["skipped-input"]
    [record] = [r for r in caplog.records if "skipped" in r.getMessage()]
    assert record.gap == "news.clean:0 offsets 36-36"  # type: ignore[attr-defined]


async def test_a_gap_the_retention_deleted_reads_on_from_the_earliest(metrics: _Metrics) -> None:
    # Offsets before 500 are gone: a consumer that fell behind jumps ahead.
    consumer = _Consumer({A: 500})
    order = InputOrder()
    order.sort(_events((A, 35)), {})
    _, _, gaps = order.sort(_events((A, 501)), {})
    await kafka._read_again(SimpleNamespace(consumer=consumer), order, gaps)  # type: ignore[arg-type]
    assert consumer.seeks == [(A, 500)] and metrics.errors == []
    kept, _, gaps = order.sort(_events((A, 500), (A, 501)), {})
    assert (len(kept), gaps) == (2, [])


def test_a_gap_left_open_is_reported_again_while_its_partition_is_held() -> None:
    clock = [100.0]
    order = InputOrder(clock=lambda: clock[0])
    order.sort(_events((A, 35), (B, 7)), {})
    order.sort(_events((A, 37), (B, 9)), {})
    assert order.overdue(3, {A, B}, 5.0) == []  # just moved back
    clock[0] = 106.0
    found = order.overdue(3, {A, B}, 5.0)
    assert [(str(gap), tries) for gap, tries in found] == [
        ("news.clean:0 offsets 36-36", 2),
        ("news.clean:1 offsets 8-8", 2),
    ]
    clock[0] = 112.0
    # Not for a partition given up, nor from an earlier generation.
    assert [g.tp for g, _ in order.overdue(3, {B}, 5.0)] == [B]
    clock[0] = 118.0
    assert order.overdue(4, {A, B}, 5.0) == []
    # Filled: nothing more to report.
    order.sort(_events((A, 36), (B, 8)), {})
    clock[0] = 130.0
    assert order.overdue(3, {A, B}, 5.0) == []


class _GuardedConsumer(_Consumer):
    def assignment(self) -> set[TP]:
        return {A}


class _App:
    def __init__(self, consumer: _GuardedConsumer) -> None:
        self.consumer = consumer
        self.consumer_generation_id = 3
        self.rebalancing = False


def _guard(order: InputOrder) -> tuple[Any, list[str], _GuardedConsumer]:
    restarts: list[str] = []
    consumer = _GuardedConsumer({A: 0})
    app = _App(consumer)
    kafka._ORDERS[app] = [order]  # type: ignore[index]
    metrics = SimpleNamespace(error=restarts.append, signs_of_life=0)
    guard = kafka.StallGuard(app, metrics, restart=lambda: restarts.append("restart"))  # type: ignore[arg-type]
    return guard, restarts, consumer


async def test_the_guard_moves_back_again_then_restarts(metrics: _Metrics) -> None:
    clock = [100.0]
    order = InputOrder(clock=lambda: clock[0])
    order.sort(_events((A, 35)), {})
    order.sort(_events((A, 37)), {})  # moved back once by batches()
    guard, restarts, consumer = _guard(order)
    for step in range(1, 3):
        clock[0] = 100.0 + 6 * step
        assert not await guard._refill()
    assert consumer.seeks == [(A, 36), (A, 36)] and restarts == []
    clock[0] = 130.0
    assert await guard._refill()
    assert restarts == ["skipped-input", "restart"]
