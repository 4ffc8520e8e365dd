"""The service's state (records in a table, buckets in an index) decides as a dict does.

The table is a dict here; between "restarts" every value goes through JSON,
as it does through Faust's changelog, and a new :class:`IndexedState` is
rebuilt from what came back.
"""

from __future__ import annotations

from datetime import timedelta
from functools import cache
from typing import Any

import orjson
import pytest

from bench.dedup.generate import generate
from services.dedup.decide import Article, Decision, DedupConfig, InMemoryDeduper, decide
from services.dedup.fingerprint import Fingerprint, fingerprint
from services.dedup.state import IndexedState

CONFIG = DedupConfig()


@cache
def stream() -> tuple[Article, ...]:
    """About 900 articles: stories, syndicated copies, hard negatives, early copies.

    Only the generator's own texts (``real=False``): the real article bodies it
    can add live outside the repository, where a clean clone has none.
    """
    return tuple(
        Article(d.id, d.url, d.title, d.text, d.source, d.seen_at)
        for d in generate(7, 0.75, real=False)
    )


@cache
def fingerprints() -> dict[int, Fingerprint]:
    """Each article's fingerprint, computed once for all tests (by object identity)."""
    return {id(item): fingerprint(item.text, title=item.title) for item in stream()}


@cache
def expected() -> tuple[list[Decision], dict[str, Any]]:
    single = InMemoryDeduper(CONFIG)
    decisions = [single.process(item) for item in stream()]
    return decisions, single.store


def run(state: IndexedState, items: tuple[Article, ...]) -> list[Decision]:
    decisions = []
    for item in items:
        if state.stale:
            state.rebuild()
        outcome = decide(item, state, CONFIG, fp=fingerprints()[id(item)])
        state.apply(item.id, item.seen_s, outcome.updates)
        decisions.append(outcome.decision)
    return decisions


def through_changelog(table: dict[str, Any]) -> dict[str, Any]:
    """The table a worker recovers: every value JSON-encoded and decoded again."""
    return {key: orjson.loads(orjson.dumps(value)) for key, value in table.items()}


def merged(table: dict[str, Any], state: IndexedState) -> dict[str, Any]:
    """Table and index as one dict, without the journals: what a plain dict holds."""
    out: dict[str, Any] = {}
    for key, value in table.items():
        if key.startswith("ix:"):
            continue
        if isinstance(value, dict):
            value = {k: v for k, v in value.items() if k not in ("ix", "q")}
        out[key] = value
    out.update(state.index_items())
    return out


def test_same_decisions_and_same_state_as_a_dict() -> None:
    table: dict[str, Any] = {}
    state = IndexedState(table, CONFIG)
    decisions, store = expected()
    assert run(state, stream()) == decisions
    assert {d.kind for d in decisions} == {"unique", "exact", "near"}
    assert merged(table, state) == store
    # Buckets stay out of the table: a decision writes its records only.
    assert not any(key.startswith(("band:", "lead:", "line:")) for key in table)


@pytest.mark.parametrize("cut", [1, 150, 450, 800])
def test_restart_rebuilds_the_index_and_decides_on(cut: int) -> None:
    items = stream()
    table: dict[str, Any] = {}
    first = IndexedState(table, CONFIG)
    before = run(first, items[:cut])
    index = dict(first.index_items())

    recovered = through_changelog(table)
    second = IndexedState(recovered, CONFIG)
    second.rebuild()
    assert dict(second.index_items()) == index
    after = run(second, items[cut:])

    decisions, store = expected()
    assert before + after == decisions
    assert merged(recovered, second) == store


def test_a_near_copy_after_a_restart_matches_an_article_seen_before() -> None:
    decisions, _ = expected()
    by_id = {item.id: item for item in stream()}
    near = next(
        (i, d) for i, d in enumerate(decisions) if d.kind == "near" and d.duplicate_of in by_id
    )
    index, decision = near
    assert decision.duplicate_of is not None
    original = by_id[decision.duplicate_of]
    table: dict[str, Any] = {}
    run(IndexedState(table, CONFIG), (original,))
    state = IndexedState(through_changelog(table), CONFIG)
    [after] = run(state, (stream()[index],))
    assert (after.kind, after.duplicate_of) == ("near", original.id)


def test_a_write_that_is_not_an_append_is_journaled_whole() -> None:
    table: dict[str, Any] = {}
    state = IndexedState(table, CONFIG)
    state.apply("a", 100.0, [("band:0:x", [["a", 100.0]]), ("sig:a", {"ts": 100.0})])
    # Not an append: an entry dropped that is neither stale nor the new id's.
    odd = [["b", 200.0]]
    state.apply("b", 200.0, [("band:0:x", odd), ("lead:y", [["b", 200.0]])])
    state.apply("c", 300.0, [("band:0:x", [*odd, ["c", 300.0]])])
    assert state.get("band:0:x") == [["b", 200.0], ["c", 300.0]]
    assert table["sig:a"]["q"] == 0 and "ix:b" in table and "ix:c" in table
    rebuilt = IndexedState(through_changelog(table), CONFIG)
    rebuilt.rebuild()
    assert dict(rebuilt.index_items()) == dict(state.index_items())


def test_bucket_keys_of_an_older_version_are_taken_over() -> None:
    table: dict[str, Any] = {"band:0:x": [["old", 50.0]], "url:old": {"ts": 50.0}}
    state = IndexedState(table, CONFIG)
    state.rebuild()
    assert state.get("band:0:x") == [["old", 50.0]]
    state.apply("new", 60.0, [("band:0:x", [["old", 50.0], ["new", 60.0]])])
    rebuilt = IndexedState(through_changelog(table), CONFIG)
    rebuilt.rebuild()
    assert rebuilt.get("band:0:x") == [["old", 50.0], ["new", 60.0]]


def test_bad_journals_are_skipped_not_fatal() -> None:
    table: dict[str, Any] = {
        "sig:a": {"ts": 1.0, "q": "x", "ix": "[]"},
        "sig:b": {"ts": 1.0, "q": 1, "ix": "not json"},
        "ix:c": {"ts": 1.0, "q": 2, "ix": '[["band:1:z"], ["band:2:z", 1, "c", "t"], 7]'},
        "ix:d": {"ts": 1.0, "q": 3, "ix": '[["band:3:z", 1]]'},
    }
    state = IndexedState(table, CONFIG)
    state.rebuild()
    assert dict(state.index_items()) == {"band:3:z": [["d", 1.0]]}


def test_sweep_forgets_the_window_in_table_and_index() -> None:
    items = stream()
    table: dict[str, Any] = {}
    state = IndexedState(table, CONFIG)
    run(state, items)
    assert table and dict(state.index_items())
    later = items[-1].seen_at + timedelta(seconds=CONFIG.window_s + 1)
    assert state.sweep(later) > 0
    assert not table and not dict(state.index_items())


def test_sweep_keeps_live_entries_and_a_rebuild_agrees() -> None:
    items = stream()
    half = len(items) // 2
    table: dict[str, Any] = {}
    state = IndexedState(table, CONFIG)
    run(state, items)
    # Just past the window of the first half's last article.
    cut = items[half].seen_at + timedelta(seconds=CONFIG.window_s)
    state.sweep(cut)
    oldest = cut.timestamp() - CONFIG.window_s
    entries = [e for _, value in state.index_items() for e in value]
    assert entries and all(e[1] >= oldest for e in entries)
    rebuilt = IndexedState(through_changelog(table), CONFIG)
    rebuilt.rebuild()
    assert dict(rebuilt.index_items()) == dict(state.index_items())
