"""When a consumer counts as stalled: behind its end offset, position unmoved."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from faust.types import TP

from shared.kafka import StallGuard, stalled_since

A, B, C = TP("t", 0), TP("t", 1), TP("t", 2)


def test_only_partitions_behind_their_end_are_watched() -> None:
    behind = stalled_since({}, {A: 5, B: 9, C: None}, {A: 9, B: 9, C: 4}, now=100.0)
    assert behind == {A: (5, 100.0)}


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


class _Metrics:
    def __init__(self) -> None:
        self.errors: list[str] = []

    def error(self, kind: str) -> None:
        self.errors.append(kind)


def _guard(
    consumer: _Consumer, clock: list[float], in_recovery: bool = True
) -> tuple[StallGuard, _Metrics]:
    recovery = SimpleNamespace(in_recovery=in_recovery, active_tps={A, B})
    app = SimpleNamespace(tables=SimpleNamespace(recovery=recovery), consumer=consumer)
    metrics = _Metrics()
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
    reading, _ = _guard(consumer, clock)
    for step in range(1, 4):
        consumer.positions[A] = 5 + step  # slow, but moving
        clock[0] = 100.0 + 15 * step
        assert not await reading._recovery_stalled()
    idle, _ = _guard(_Consumer(), clock, in_recovery=False)
    clock[0] = 1000.0
    assert not await idle._recovery_stalled()
    assert rejoins == []
