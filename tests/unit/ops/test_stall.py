"""When a consumer counts as stalled: behind its end offset, position unmoved."""

from __future__ import annotations

from faust.types import TP

from shared.kafka import stalled_since

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
