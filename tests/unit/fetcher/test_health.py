"""Per-source health series: outcomes folded into few labels, only owned sources shown."""

from __future__ import annotations

from collections.abc import Mapping

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from services.fetcher.health import OUTCOMES, Owned, SourceHealth, poll_outcome


@pytest.mark.parametrize(
    ("state", "reason", "outcome"),
    [
        ({"not_modified": False}, None, "ok"),
        ({"not_modified": True}, None, "not-modified"),
        ({}, "http-404", "http-4xx"),
        ({}, "http-410", "http-4xx"),
        ({}, "http-503", "http-5xx"),
        ({}, "http-304", "http-3xx"),
        ({}, "http-999", "other"),
        ({}, "timeout", "timeout"),
        ({}, "dns", "connection"),
        ({}, "malformed-feed", "parse"),
        ({}, "empty-body", "parse"),
        ({}, "too-large", "too-large"),
        ({}, "redirect-loop", "redirect"),
        ({}, "robots-disallowed", "robots"),
        ({}, "plugin-error", "plugin"),
        ({}, "something-new", "other"),
    ],
)
def test_poll_outcomes_are_a_small_fixed_set(
    state: dict[str, object], reason: str | None, outcome: str
) -> None:
    assert poll_outcome(state, reason) == outcome
    assert outcome in OUTCOMES


def _health(owned: dict[str, Owned]) -> tuple[SourceHealth, CollectorRegistry]:
    def current() -> Mapping[str, Owned]:
        return owned

    health = SourceHealth("fetcher", current)
    registry = CollectorRegistry()
    registry.register(health)
    return health, registry


def _value(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, {"stage": "fetcher", **labels})


def test_series_per_owned_source_from_its_counts_and_state() -> None:
    owned = {
        "a": Owned(
            "rss",
            {"failures": 0, "last_success_at": 1700.0, "interval_s": 5.0, "not_modified": False},
        ),
        "b": Owned("atom", {"failures": 3, "interval_s": 40.0, "last_error_reason": "timeout"}),
        "c": Owned("rss", None),  # registered, not polled yet
    }
    health, registry = _health(owned)
    health.polled("a", "ok", 7)
    health.polled("a", "not-modified", 0)
    health.polled("a", "ok", 2)
    for _ in range(3):
        health.polled("b", "timeout", 0)

    a = {"source": "a", "kind": "rss"}
    b = {"source": "b", "kind": "atom"}
    assert _value(registry, "newsflow_source_polls_total", outcome="ok", **a) == 2
    assert _value(registry, "newsflow_source_polls_total", outcome="not-modified", **a) == 1
    assert _value(registry, "newsflow_source_polls_total", outcome="timeout", **b) == 3
    assert _value(registry, "newsflow_source_items_total", **a) == 9
    assert _value(registry, "newsflow_source_consecutive_failures", **b) == 3
    assert _value(registry, "newsflow_source_last_success_timestamp_seconds", **a) == 1700.0
    # Never succeeded: no last-success series rather than a misleading 0.
    assert _value(registry, "newsflow_source_last_success_timestamp_seconds", **b) is None
    assert _value(registry, "newsflow_source_poll_interval_seconds", **a) == 5.0
    assert _value(registry, "newsflow_source_poll_interval_seconds", **b) == 40.0
    c = {"source": "c", "kind": "rss"}
    assert _value(registry, "newsflow_source_items_total", **c) == 0
    assert _value(registry, "newsflow_source_consecutive_failures", **c) == 0


def test_a_source_no_longer_owned_leaves_no_series_behind() -> None:
    owned = {f"s{n}": Owned("rss", {"interval_s": 5.0}) for n in range(3)}
    health, registry = _health(owned)
    for source_id in owned:
        health.polled(source_id, "ok", 1)
    assert 's0"' in generate_latest(registry).decode()

    # s0 removed from the registry, s1's partition moved to another worker.
    del owned["s0"], owned["s1"]
    text = generate_latest(registry).decode()
    assert 'source="s0"' not in text and 'source="s1"' not in text
    assert _value(registry, "newsflow_source_polls_total", source="s2", kind="rss", outcome="ok")
    # Its counts are gone too: should it come back, they start again.
    owned["s1"] = Owned("rss", {"interval_s": 5.0})
    assert _value(registry, "newsflow_source_items_total", source="s1", kind="rss") == 0
    assert (
        _value(registry, "newsflow_source_polls_total", source="s1", kind="rss", outcome="ok")
        is None
    )
