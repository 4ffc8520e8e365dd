"""Batches finished in the background: acknowledged only when done, failures not lost."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest

from shared.kafka import Pipeline


class _Event:
    def __init__(self, offset: int) -> None:
        self.message = SimpleNamespace(acked=False, topic="t", offset=offset)
        self.acks = 0

    def ack(self) -> None:
        self.acks += 1


class _Metrics:
    def __init__(self) -> None:
        self.batches: list[tuple[str, int]] = []

    def processed(self, topic: str, count: int, seconds: float) -> None:
        self.batches.append((topic, count))


async def test_a_batch_is_acknowledged_once_finished_while_the_next_goes_on() -> None:
    metrics = _Metrics()
    pipeline = Pipeline(2, metrics)  # type: ignore[arg-type]
    first, second = [_Event(0), _Event(1)], [_Event(2)]
    release = asyncio.Event()

    async def slow() -> None:
        await release.wait()

    await pipeline.submit(first, slow)  # type: ignore[arg-type]
    await pipeline.submit(second, slow)  # type: ignore[arg-type]  # not blocked by the first
    await asyncio.sleep(0)
    # Marked acknowledged for Faust's own (no-op) acknowledgement, but not acknowledged yet.
    assert all(e.message.acked and e.acks == 0 for e in first + second)
    release.set()
    await asyncio.sleep(0.01)
    assert all(e.acks == 1 and not e.message.acked for e in first + second)
    assert sorted(metrics.batches) == [("t", 1), ("t", 2)]


async def test_a_failed_batch_stays_unacknowledged_and_fails_the_next_submit() -> None:
    pipeline = Pipeline(2)
    failed = [_Event(0)]

    async def broken() -> Any:
        raise RuntimeError("broker gone")

    await pipeline.submit(failed, broken)  # type: ignore[arg-type]
    await asyncio.sleep(0.01)
    assert failed[0].acks == 0
    with pytest.raises(RuntimeError, match="broker gone"):
        await pipeline.submit([_Event(1)], broken)  # type: ignore[list-item]


async def test_a_batch_done_first_waits_for_the_batches_before_it() -> None:
    # Faust would commit 11-12 over a lone 10 still being written: a crash
    # then would lose it. So 11-12 are acknowledged only after 10.
    pipeline = Pipeline(2)
    first, second = [_Event(10)], [_Event(11), _Event(12)]
    release = asyncio.Event()

    async def slow() -> None:
        await release.wait()

    async def fast() -> None:
        return None

    await pipeline.submit(first, slow)  # type: ignore[arg-type]
    await pipeline.submit(second, fast)  # type: ignore[arg-type]
    await asyncio.sleep(0.01)
    assert [e.acks for e in first + second] == [0, 0, 0]
    release.set()
    await asyncio.sleep(0.01)
    assert [e.acks for e in first + second] == [1, 1, 1]
