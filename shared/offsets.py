"""Every input message, in order: what a stage checks of the offsets it is handed.

Faust hands a stream its partitions' messages in order, but not always all
of them. Found in CI and reproduced here: a worker just given partitions
after a rebalance read a few messages while its consumer was still being
moved to the committed offsets; some of them the stream skipped, and when
the same offsets were fetched again the consumer dropped them as already
read. The messages after them were handled and acknowledged, and as Faust
commits acknowledged offsets across a single missing one, the skipped
articles were gone (five of three hundred, in
``test_two_workers_one_killed_decide_a_concurrent_stream_as_one_process``).

So each stage checks, per partition, that every message continues where
the one before it ended, within one consumer generation, and that the first
one after an assignment is the one at the group's committed offset (asked
of the broker: seen too, the first message after an assignment skipped and
the next committed over it). A gap that the topic's retention does not explain means
messages were skipped: the worker must not acknowledge anything past it,
and restarts (:func:`shared.kafka.restart_in_place`), so that a fresh
consumer reads again from the committed offset. Messages read twice (the
same fetch delivered again after the move) are let through: every stage
handles a redelivery as it would after a crash.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from faust.types import TP, EventT

__all__ = ["BrokerCommits", "Gap", "InputOrder"]


@dataclass(frozen=True, slots=True)
class Gap:
    """Offsets ``[start, end)`` of ``tp`` that never reached the stage."""

    tp: TP
    start: int
    end: int

    def __str__(self) -> str:
        return f"{self.tp.topic}:{self.tp.partition} offsets {self.start}-{self.end - 1}"


class InputOrder:
    """The next offset each input partition owes the stage, per consumer generation."""

    def __init__(self) -> None:
        # TP → (generation, next offset expected).
        self._next: dict[TP, tuple[int | None, int]] = {}

    def starting(self, events: Sequence[EventT[Any]]) -> list[TP]:
        """The partitions whose first messages of a generation are in ``events``."""
        new = {
            message.tp
            for message in (event.message for event in events)
            if (known := self._next.get(message.tp)) is None or known[0] != message.generation_id
        }
        return sorted(new)

    def check(self, events: Sequence[EventT[Any]], committed: Mapping[TP, int | None]) -> list[Gap]:
        """The gaps in front of ``events`` (a batch, in arrival order); the
        batch's offsets are then taken as seen. ``committed``: the group's
        committed offsets of the :meth:`starting` partitions (None or absent
        where unknown: nothing to check the first message against)."""
        gaps: list[Gap] = []
        for event in events:
            message = event.message
            tp, offset, generation = message.tp, message.offset, message.generation_id
            known = self._next.get(tp)
            expected = committed.get(tp) if known is None or known[0] != generation else known[1]
            if expected is not None and offset > expected:
                gaps.append(Gap(tp, expected, offset))
            high = offset + 1 if expected is None else max(expected, offset + 1)
            self._next[tp] = (generation, high)
        return gaps


class BrokerCommits:
    """A consumer group's committed offsets, asked of the broker over a
    client of its own (kept between calls, made afresh after a failure)."""

    def __init__(self, bootstrap: str, group: str) -> None:
        self._bootstrap = bootstrap
        self._group = group
        self._consumer: Any = None

    async def __call__(self, tps: Sequence[TP]) -> dict[TP, int | None]:
        from aiokafka import AIOKafkaConsumer
        from aiokafka.structs import TopicPartition

        if self._consumer is None:
            consumer = AIOKafkaConsumer(
                bootstrap_servers=self._bootstrap,
                group_id=self._group,
                enable_auto_commit=False,
                request_timeout_ms=10_000,
            )
            await consumer.start()
            self._consumer = consumer
        try:
            return {tp: await self._consumer.committed(TopicPartition(*tp)) for tp in tps}
        except Exception:
            await self.close()
            raise

    async def close(self) -> None:
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            with contextlib.suppress(Exception):
                await consumer.stop()
