"""Every input message, in order: what a stage checks of the offsets it is handed.

Faust hands a stream its partitions' messages in order, but not always all
of them. Found in CI and reproduced here: right after a rebalance, while a
worker's consumer is moved to the committed offsets, the stream may never
hand over some messages it read, and when the same offsets are fetched
again the consumer drops them as already read. The messages after them are
handled and acknowledged, and as Faust commits acknowledged offsets across
a single missing one, the skipped articles were gone (five of three
hundred, in
``test_two_workers_one_killed_decide_a_concurrent_stream_as_one_process``).

So each stage checks, per partition, that every message continues where
the one before it ended within one consumer generation, and that the first
one after an assignment is the one at the group's committed offset (asked
of the broker: a first message skipped and the next committed over it was
seen too). A message past a gap is not handed over, nor acknowledged: the
consumer is moved back to the gap (``Consumer.seek_wait``) and the messages
after it already on their way are dropped as well, until the missing one
comes; the stall guard moves back again while it does not
(:meth:`InputOrder.overdue`). A gap the topic's retention explains (a consumer that fell behind
it) is jumped. Messages read twice (the same fetch delivered again) are let
through: every stage handles a redelivery as it would after a crash.

Only for topics whose offsets have no holes: a compacted topic's do (the
fetcher reads ``news.feeds``, the one compacted input, without batches).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence, Set
from dataclasses import dataclass
from typing import Any, TypeVar

from faust.types import TP, EventT

__all__ = ["BrokerCommits", "Gap", "InputOrder", "OwnClient"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Gap:
    """Offsets ``[start, end)`` of ``tp`` that never reached the stage."""

    tp: TP
    start: int
    end: int

    def __str__(self) -> str:
        return f"{self.tp.topic}:{self.tp.partition} offsets {self.start}-{self.end - 1}"


@dataclass(slots=True)
class _Expected:
    generation: int | None
    offset: int | None  # the next one owed; None: whatever comes first
    gap: Gap | None = None  # moved back to its start, waiting for it
    sought: float = 0.0  # when the consumer was last moved back
    tries: int = 0  # how often


class InputOrder:
    """The next offset each input partition owes the stage, per consumer generation.

    A move back can itself come to nothing (the same race: the rest of the
    old fetch, delivered after the move, makes the consumer drop the
    messages read again), so a gap still open after a while is reported
    again by :meth:`overdue`.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._next: dict[TP, _Expected] = {}
        self._clock = clock

    def starting(self, events: Sequence[EventT[Any]]) -> list[TP]:
        """The partitions whose first messages of a generation are in ``events``."""
        new = set()
        for event in events:
            message = event.message
            known = self._next.get(message.tp)
            if known is None or known.generation != message.generation_id:
                new.add(message.tp)
        return sorted(new)

    def sort(
        self, events: Sequence[EventT[Any]], committed: Mapping[TP, int | None]
    ) -> tuple[list[EventT[Any]], list[EventT[Any]], list[Gap]]:
        """``events`` (a batch, in arrival order) split into those to hand
        over and those past a gap, with the gaps newly found (to move the
        consumer back to). ``committed``: the group's committed offsets of
        the :meth:`starting` partitions (None or absent where unknown:
        nothing to check the first message against)."""
        kept: list[EventT[Any]] = []
        dropped: list[EventT[Any]] = []
        gaps: list[Gap] = []
        for event in events:
            message = event.message
            tp, offset = message.tp, message.offset
            known = self._next.get(tp)
            if known is None or known.generation != message.generation_id:
                known = self._next[tp] = _Expected(message.generation_id, committed.get(tp))
            if known.offset is not None and offset > known.offset:
                if known.gap is None:
                    known.gap = Gap(tp, known.offset, offset)
                    known.sought, known.tries = self._clock(), 1
                    gaps.append(known.gap)
                dropped.append(event)
                continue
            if offset == known.offset:
                known.gap, known.tries = None, 0  # the missing one came: the move back worked
            known.offset = offset + 1 if known.offset is None else max(known.offset, offset + 1)
            kept.append(event)
        return kept, dropped, gaps

    def overdue(
        self, generation: int | None, assigned: Set[TP], after_s: float
    ) -> list[tuple[Gap, int]]:
        """Gaps of ``assigned`` partitions in ``generation`` still open
        ``after_s`` after the consumer was last moved back, each with how
        often it was; they count as moved back again now."""
        now = self._clock()
        found: list[tuple[Gap, int]] = []
        for tp, known in self._next.items():
            if known.gap is None or known.generation != generation or tp not in assigned:
                continue
            if now - known.sought < after_s:
                continue
            known.sought, known.tries = now, known.tries + 1
            found.append((known.gap, known.tries))
        return found

    def jump(self, gap: Gap, to: int) -> None:
        """Take the offsets of ``gap`` before ``to`` as deleted (retention):
        the partition owes ``to`` next."""
        known = self._next.get(gap.tp)
        if known is not None and known.gap == gap:
            known.offset, known.gap = to, None


class OwnClient:
    """A Kafka consumer of its own, for asking the broker what a worker's
    consumer may not answer (or answer from stale state); kept between calls
    and made afresh after a failure. It never subscribes, so never joins a group."""

    def __init__(self, bootstrap: str, **options: Any) -> None:
        self._bootstrap = bootstrap
        self._options = options
        self._consumer: Any = None

    async def ask(self, call: Callable[[Any], Awaitable[T]]) -> T:
        """``call(consumer)``, on the client started if need be."""
        from aiokafka import AIOKafkaConsumer

        if self._consumer is None:
            consumer = AIOKafkaConsumer(
                bootstrap_servers=self._bootstrap, request_timeout_ms=10_000, **self._options
            )
            try:
                await consumer.start()
            except Exception:
                await consumer.stop()
                raise
            self._consumer = consumer
        try:
            return await call(self._consumer)
        except Exception:
            await self.close()
            raise

    async def close(self) -> None:
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            with contextlib.suppress(Exception):
                await consumer.stop()


class BrokerCommits(OwnClient):
    """A consumer group's committed offsets, asked of the broker."""

    def __init__(self, bootstrap: str, group: str) -> None:
        super().__init__(bootstrap, group_id=group, enable_auto_commit=False)

    async def __call__(self, tps: Sequence[TP]) -> dict[TP, int | None]:
        from aiokafka.structs import TopicPartition

        async def committed(consumer: Any) -> dict[TP, int | None]:
            return {tp: await consumer.committed(TopicPartition(*tp)) for tp in tps}

        return await self.ask(committed)
