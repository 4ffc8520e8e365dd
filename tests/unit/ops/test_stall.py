"""When a consumer counts as stalled: behind its end offset, position unmoved."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from types import SimpleNamespace

import pytest
from faust.types import TP

from shared.kafka import StallGuard, stalled_since

A, B, C = TP("t", 0), TP("t", 1), TP("t", 2)


def test_only_partitions_behind_their_end_are_watched() -> None:
    behind = stalled_since({}, {A: 5, B: 9}, {A: 9, B: 9}, now=100.0)
    assert behind == {A: (5, 100.0)}


def test_a_partition_with_no_position_and_records_to_read_is_watched() -> None:
    # Seen in CI: a recovery whose seeks never completed read nothing for
    # 80 s; its partitions had no position at all, and went unwatched.
    D = TP("t", 3)
    behind = stalled_since({}, {C: None, D: None}, {C: 4, D: 0}, now=100.0)
    assert behind == {C: (-1, 100.0)}
    assert stalled_since(behind, {C: None}, {C: 4}, now=130.0) == {C: (-1, 100.0)}


def test_an_unmoved_position_keeps_its_first_sighting() -> None:
    first = stalled_since({}, {A: 5}, {A: 9}, now=100.0)
    assert stalled_since(first, {A: 5}, {A: 12}, now=130.0) == {A: (5, 100.0)}


def test_a_moving_position_starts_afresh() -> None:
    first = stalled_since({}, {A: 5}, {A: 9}, now=100.0)
    assert stalled_since(first, {A: 7}, {A: 9}, now=130.0) == {A: (7, 130.0)}
    assert stalled_since(first, {A: 9}, {A: 9}, now=130.0) == {}


class _Consumer:
    """Positions the test moves by hand; every changelog partition ends at 9."""

    def __init__(self) -> None:
        self.positions = {A: 5, B: 9}

    async def position(self, tp: TP) -> int:
        return self.positions[tp]

    async def highwaters(self, *tps: TP) -> dict[TP, int]:
        return dict.fromkeys(tps, 9)


class _Worker:
    """A worker the wedge check looks at: its signs of life, batches and input."""

    def __init__(self) -> None:
        self.signs_of_life = 0
        self.in_flight = False
        self.errors: list[str] = []
        self.batched = {"t"}

    def busy(self) -> bool:
        return self.in_flight

    def error(self, kind: str) -> None:
        self.errors.append(kind)

    def alive(self) -> None:
        self.signs_of_life += 1


def _guard(
    consumer: _Consumer, clock: list[float], in_recovery: bool = True
) -> tuple[StallGuard, _Worker]:
    recovery = SimpleNamespace(in_recovery=in_recovery, active_tps={A, B})
    app = SimpleNamespace(tables=SimpleNamespace(recovery=recovery), consumer=consumer)
    metrics = _Worker()
    guard = StallGuard(app, metrics, stall_s=20.0, clock=lambda: clock[0])  # type: ignore[arg-type]
    return guard, metrics


async def test_a_recovery_that_stopped_reading_rejoins_the_group(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rejoins: list[object] = []
    monkeypatch.setattr("shared.kafka._request_rejoin", rejoins.append)
    consumer, clock = _Consumer(), [100.0]
    guard, metrics = _guard(consumer, clock)
    assert not await guard._recovery_stalled()
    clock[0] = 119.0
    assert not await guard._recovery_stalled()
    clock[0] = 121.0
    assert await guard._recovery_stalled()
    assert len(rejoins) == 1 and metrics.errors == ["recovery-stalled"]


async def test_a_recovery_still_reading_or_none_at_all_is_left_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rejoins: list[object] = []
    monkeypatch.setattr("shared.kafka._request_rejoin", rejoins.append)
    consumer, clock = _Consumer(), [100.0]
    reading, metrics = _guard(consumer, clock)
    for step in range(1, 4):
        consumer.positions[A] = 5 + step  # slow, but moving
        clock[0] = 100.0 + 15 * step
        assert not await reading._recovery_stalled()
        # Each move is a sign of life: the wedge check leaves a long recovery alone.
        assert metrics.signs_of_life == step
    idle, _ = _guard(_Consumer(), clock, in_recovery=False)
    clock[0] = 1000.0
    assert not await idle._recovery_stalled()
    assert rejoins == []


class _App(SimpleNamespace):
    """A stand-in app (weakly referable and hashable, as the guard's registries need)."""

    __hash__ = object.__hash__


def _wedge_guard(
    clock: list[float], ends: dict[TP, int] | None
) -> tuple[StallGuard, _Worker, list[str]]:
    """A guard over an app reading partitions A and B (positions 5 and 9);
    ``ends`` is what the broker answers, None when it does not."""
    consumer = _Consumer()
    consumer.assignment = lambda: {A, B}  # type: ignore[attr-defined]
    agent = SimpleNamespace(channel=SimpleNamespace(topics=("t",)))
    app = _App(agents={"agent": agent}, consumer=consumer, rebalancing=False)
    worker, restarts = _Worker(), []

    async def broker(tps: object) -> dict[TP, int]:
        if ends is None:
            raise ConnectionError("no broker")
        return ends

    guard = StallGuard(
        app,  # type: ignore[arg-type]
        worker,  # type: ignore[arg-type]
        clock=lambda: clock[0],
        wedge_s=120.0,
        broker=broker,
        restart=lambda: restarts.append("restart"),
    )
    return guard, worker, restarts


async def test_a_quiet_worker_with_a_batch_in_flight_restarts_once_its_time_is_up() -> None:
    clock = [100.0]
    guard, worker, restarts = _wedge_guard(clock, {A: 5, B: 9})
    worker.in_flight = True
    clock[0] = 219.0
    assert not await guard._wedged()
    clock[0] = 221.0
    assert await guard._wedged()
    assert restarts == ["restart"] and worker.errors == ["wedged"]


async def test_input_waiting_on_an_assigned_partition_is_work_too() -> None:
    clock = [100.0]
    guard, _, restarts = _wedge_guard(clock, {A: 8, B: 9})  # A's position is 5
    clock[0] = 221.0
    assert await guard._wedged()
    assert restarts == ["restart"]


async def test_signs_of_life_keep_a_slow_worker_running() -> None:
    clock = [100.0]
    guard, worker, restarts = _wedge_guard(clock, {A: 8, B: 9})
    worker.in_flight = True
    for step in range(1, 10):
        clock[0] = 100.0 + 100 * step
        worker.signs_of_life += 1  # e.g. an indexer retrying Elasticsearch
        assert not await guard._wedged()
    assert restarts == []


async def test_an_idle_worker_or_an_absent_broker_is_not_wedged() -> None:
    clock = [100.0]
    idle, _, restarts = _wedge_guard(clock, {A: 5, B: 9})  # caught up, nothing in flight
    clock[0] = 500.0
    assert not await idle._wedged()
    # Work that arrives later gets the whole wait again, counted from then.
    idle._broker = _answer({A: 8, B: 9})
    clock[0] = 600.0
    assert not await idle._wedged()
    clock[0] = 621.0
    assert await idle._wedged()

    waiting, worker, absent = _wedge_guard(clock, None)
    worker.in_flight = True
    clock[0] = 10_000.0
    assert not await waiting._wedged()
    assert restarts == ["restart"] and absent == []


def _answer(ends: dict[TP, int]) -> Callable[[object], Awaitable[dict[TP, int]]]:
    async def broker(tps: object) -> dict[TP, int]:
        return ends

    return broker


async def test_a_recovery_that_never_fetched_is_seen_through_the_brokers_end_offsets(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Seen in CI: the consumer had fetched nothing from the changelogs, so it
    # knew no high-water mark for them and the guard saw nothing left to read.
    rejoins: list[object] = []
    monkeypatch.setattr("shared.kafka._request_rejoin", rejoins.append)

    class NeverFetched(_Consumer):
        async def highwaters(self, *tps: TP) -> dict[TP, int]:
            return dict.fromkeys(tps)  # type: ignore[return-value]

    clock = [100.0]
    blind, _ = _guard(NeverFetched(), clock)
    told, metrics = _guard(NeverFetched(), clock)
    told._broker = _answer({A: 9, B: 9})
    for now in (100.0, 125.0):
        clock[0] = now
        assert not await blind._recovery_stalled()
    clock[0] = 100.0
    assert not await told._recovery_stalled()
    clock[0] = 125.0
    assert await told._recovery_stalled()
    assert len(rejoins) == 1 and metrics.errors == ["recovery-stalled"]


async def test_messages_read_but_never_handed_over_restart_the_worker() -> None:
    # A's position is 5; its committed offset stays at 3 while the stage
    # waits for input: two messages read that never reached it.
    clock = [100.0]
    guard, worker, restarts = _wedge_guard(clock, {A: 5, B: 9})
    guard._app.consumer._committed_offset = {A: 3, B: 9}
    assert not await guard._lost_tail([A, B])
    clock[0] = 159.0
    assert not await guard._lost_tail([A, B])
    clock[0] = 161.0
    assert await guard._lost_tail([A, B])
    assert restarts == ["restart"] and worker.errors == ["skipped-input"]


async def test_input_not_read_in_batches_is_not_watched_for_lost_messages() -> None:
    # A fetcher's poll keeps its request unacknowledged for as long as it polls.
    clock = [100.0]
    guard, worker, restarts = _wedge_guard(clock, {A: 5, B: 9})
    guard._app.consumer._committed_offset = {A: 3, B: 9}
    worker.batched = set()
    for step in range(1, 4):
        clock[0] = 100.0 + 100 * step
        assert not await guard._lost_tail([A, B])
    assert restarts == []


async def test_commits_that_move_or_a_batch_in_flight_are_no_lost_messages() -> None:
    clock = [100.0]
    guard, worker, restarts = _wedge_guard(clock, {A: 5, B: 9})
    committed = {A: 3, B: 9}
    guard._app.consumer._committed_offset = committed
    for step in range(1, 6):
        clock[0] = 100.0 + 50 * step
        committed[A] = 3 + step % 2  # Faust commits what the stage acknowledged
        assert not await guard._lost_tail([A, B])
    # A batch being handled is uncommitted for as long as it takes.
    worker.in_flight = True
    committed[A] = 3
    for step in range(1, 4):
        clock[0] = 400.0 + 50 * step
        assert not await guard._lost_tail([A, B])
    worker.in_flight = False
    clock[0] = 600.0
    assert not await guard._lost_tail([A, B])  # counted from the batch's end
    assert restarts == []


async def test_a_broker_that_refuses_the_guard_leaves_the_worker_running() -> None:
    # Seen in CI: during a broker restart the guard's own client could not
    # bootstrap, the guard's timer crashed, and the worker with it.
    clock = [100.0]
    guard, _, restarts = _wedge_guard(clock, None)  # the broker does not answer
    guard._app.consumer._committed_offset = {}
    guard._app.tables = SimpleNamespace(recovery=SimpleNamespace(in_recovery=False))
    guard._app.consumer_generation_id = 3
    for step in range(1, 4):
        clock[0] = 100.0 + 30 * step
        await guard._checks()
    assert restarts == []


async def test_a_partition_without_a_position_is_not_waited_for() -> None:
    # aiokafka's position() waits until there is one: the guard must not.
    from shared.kafka import _position

    class Hangs:
        def __init__(self, valid: bool) -> None:
            self.state = SimpleNamespace(has_valid_position=valid)
            assignment = SimpleNamespace(state_value=lambda tp: self.state)
            client = SimpleNamespace(
                _subscription=SimpleNamespace(subscription=SimpleNamespace(assignment=assignment))
            )
            self._thread = SimpleNamespace(_ensure_consumer=lambda: client)

        async def position(self, tp: TP) -> int:
            if not self.state.has_valid_position:
                await asyncio.Event().wait()  # for ever, as aiokafka's
            return 7

    assert await asyncio.wait_for(_position(Hangs(valid=False), A), 1.0) is None
    assert await _position(Hangs(valid=True), A) == 7
