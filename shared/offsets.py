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
the one before it ended, within one consumer generation (the first message
after an assignment starts wherever the move left the consumer, so it is
not checked). A gap that the topic's retention does not explain means
messages were skipped: the worker must not acknowledge anything past it,
and restarts (:func:`shared.kafka.restart_in_place`), so that a fresh
consumer reads again from the committed offset. Messages read twice (the
same fetch delivered again after the move) are let through: every stage
handles a redelivery as it would after a crash.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from faust.types import TP, EventT

__all__ = ["Gap", "InputOrder"]


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

    def check(self, events: Sequence[EventT[Any]]) -> list[Gap]:
        """The gaps in front of ``events`` (a batch, in arrival order); the
        batch's offsets are then taken as seen."""
        gaps: list[Gap] = []
        for event in events:
            message = event.message
            tp, offset, generation = message.tp, message.offset, message.generation_id
            known = self._next.get(tp)
            if known is None or known[0] != generation:
                self._next[tp] = (generation, offset + 1)
                continue
            expected = known[1]
            if offset > expected:
                gaps.append(Gap(tp, expected, offset))
            self._next[tp] = (generation, max(expected, offset + 1))
        return gaps
