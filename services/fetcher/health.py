"""Per-source health as Prometheus series: polls by outcome, items, failures, pace.

One series per source this worker owns, labelled by source id and kind. The
set is worked out afresh at every scrape from the sources of the worker's
assigned partitions, so a source removed from the registry, or whose
partition moved to another worker, disappears from this worker's metrics
without any bookkeeping of its own, and the number of series stays bounded
by the sources the worker polls.

The gauges (consecutive failures, last success, interval) are read from the
source's state, which the ``state`` table keeps and a new owner recovers;
the counters (polls by outcome, items emitted) count what this process did,
and start again from zero on a new owner, as Prometheus counters may.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

__all__ = ["OUTCOMES", "Owned", "SourceHealth", "poll_outcome"]

# Every value the ``outcome`` label can take: a fixed, small set, so that a
# source with a new failure every poll cannot mint series without bound.
OUTCOMES = (
    "ok",
    "not-modified",
    "http-3xx",
    "http-4xx",
    "http-5xx",
    "timeout",
    "connection",
    "parse",
    "too-large",
    "redirect",
    "robots",
    "refused",
    "throttled",
    "plugin",
    "other",
)

# Failure reasons of sources (shared.http, shared.sources, the fetcher) by
# the outcome they are counted under; http-NNN are folded by class below.
_REASONS = {
    "timeout": "timeout",
    "connection": "connection",
    "dns": "connection",
    "malformed-feed": "parse",
    "malformed-xml": "parse",
    "xml-entities": "parse",
    "not-a-sitemap": "parse",
    "empty-body": "parse",
    "binary-body": "parse",
    "bad-encoding": "parse",
    "too-large": "too-large",
    "redirect-loop": "redirect",
    "too-many-redirects": "redirect",
    "robots-disallowed": "robots",
    "robots-unavailable": "robots",
    "blocked-path": "refused",
    "bad-url": "refused",
    "not-found": "refused",
    "host-throttled": "throttled",
    "plugin-error": "plugin",
    "unknown-kind": "plugin",
}


def poll_outcome(state: Mapping[str, Any], error_reason: str | None) -> str:
    """The ``outcome`` label of a poll that left ``state``, failed with ``error_reason`` if set."""
    if error_reason is None:
        return "not-modified" if state.get("not_modified") else "ok"
    if error_reason.startswith("http-") and error_reason[5:].isdigit():
        status = int(error_reason[5:])
        if 300 <= status < 600:
            return f"http-{status // 100}xx"
        return "other"
    return _REASONS.get(error_reason, "other")


@dataclass(frozen=True)
class Owned:
    """A source this worker owns right now: its kind and its state (None before its first poll)."""

    kind: str
    state: Mapping[str, Any] | None


@dataclass
class _Counts:
    polls: Counter[str] = field(default_factory=Counter)
    items: int = 0


class SourceHealth(Collector):
    """Collects the per-source series of one fetcher worker.

    ``owned()`` gives, at scrape time, the sources of the worker's assigned
    partitions by id; only they get series.
    """

    def __init__(self, stage: str, owned: Callable[[], Mapping[str, Owned]]) -> None:
        self._stage = stage
        self._owned = owned
        self._counts: dict[str, _Counts] = {}

    def polled(self, source_id: str, outcome: str, items: int) -> None:
        """Count one poll of ``source_id`` and the items it emitted."""
        counts = self._counts.setdefault(source_id, _Counts())
        counts.polls[outcome] += 1
        counts.items += items

    def collect(self) -> Iterator[Metric]:
        owned = self._owned()
        # Counts of sources this worker no longer owns are dropped for good:
        # should the source come back, its counters restart, as after a restart.
        self._counts = {sid: c for sid, c in self._counts.items() if sid in owned}
        labels = ["stage", "source", "kind"]
        polls = CounterMetricFamily(
            "newsflow_source_polls",
            "Polls of a source by outcome (ok, not-modified, or the kind of failure)",
            labels=[*labels, "outcome"],
        )
        items = CounterMetricFamily(
            "newsflow_source_items", "Articles a source's polls emitted to news.raw", labels=labels
        )
        failures = GaugeMetricFamily(
            "newsflow_source_consecutive_failures",
            "Failed polls of a source since its last successful one",
            labels=labels,
        )
        last_success = GaugeMetricFamily(
            "newsflow_source_last_success_timestamp_seconds",
            "When a source was last polled successfully (unix seconds); absent before that",
            labels=labels,
        )
        interval = GaugeMetricFamily(
            "newsflow_source_poll_interval_seconds",
            "Seconds between a source's polls as last set: its pace, or its backoff after failures",
            labels=labels,
        )
        for source_id in sorted(owned):
            source = owned[source_id]
            values = [self._stage, source_id, source.kind]
            counts = self._counts.get(source_id, _Counts())
            for outcome in sorted(counts.polls):
                polls.add_metric([*values, outcome], counts.polls[outcome])
            items.add_metric(values, counts.items)
            state = source.state or {}
            failures.add_metric(values, int(state.get("failures", 0)))
            if "last_success_at" in state:
                last_success.add_metric(values, float(state["last_success_at"]))
            if "interval_s" in state:
                interval.add_metric(values, float(state["interval_s"]))
            elif "next_poll_at" in state and "last_poll_at" in state:  # state of an older worker
                pace = float(state["next_poll_at"]) - float(state["last_poll_at"])
                interval.add_metric(values, max(pace, 0.0))
        yield from (polls, items, failures, last_success, interval)
