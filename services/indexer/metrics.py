"""The indexer's own metrics: bulk request sizes, retries and Elasticsearch latency.

They live in the worker's registry (:func:`shared.metrics.metrics_for`), next
to the counts every stage has. The worker attaches that registry only once it
runs, after the app was built, so :class:`IndexerMetrics` looks it up when it
records, not when it is made.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from prometheus_client import Counter, Histogram

from shared.metrics import StageMetrics

__all__ = ["RETRY_REASONS", "IndexerMetrics", "retry_reason", "status_reason"]

T = TypeVar("T")

# What a retry is counted under: the kinds an operator acts on differently
# (a busy cluster, a broken one, a slow one, an unreachable one).
RETRY_REASONS = ("429", "5xx", "timeout", "connection")

# A bulk request holds up to batch_size (500) documents; fewer mean the
# stream is slow or batches are cut by time or bytes.
_DOCUMENT_BUCKETS = (1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500)
# Elasticsearch advises bulk bodies of a few MB; the default cap is 5 MB.
_BYTE_BUCKETS = (1e3, 1e4, 1e5, 2.5e5, 5e5, 1e6, 2.5e6, 5e6, 1e7, 2.5e7)
# A bulk of 500 articles takes a few hundred ms on a small host; a request
# that meets an outage fails after the client's timeout (30 s by default).
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


def retry_reason(reason: str) -> str:
    """The retry label of a :func:`services.indexer.retry.transient_reason` code."""
    if reason.startswith("status-"):
        return status_reason(int(reason.removeprefix("status-")))
    if reason == "timeout":
        return "timeout"
    return "connection"  # connection errors and other transport failures


def status_reason(status: int) -> str:
    """The retry label of a retryable HTTP status (of a response or a bulk item)."""
    if status == 429:
        return "429"
    if status == 408:
        return "timeout"
    return "5xx"


@dataclass(frozen=True)
class _Series:
    stage: str
    bulk_documents: Histogram
    bulk_bytes: Histogram
    retries: Counter
    request_seconds: Histogram


# One set of series per registry: prometheus_client refuses a name twice.
_SERIES: weakref.WeakKeyDictionary[StageMetrics, _Series] = weakref.WeakKeyDictionary()


def _series(stage: StageMetrics) -> _Series:
    found = _SERIES.get(stage)
    if found is not None:
        return found
    reg = stage.registry
    series = _Series(
        stage=stage.stage,
        bulk_documents=Histogram(
            "newsflow_es_bulk_documents",
            "Actions (documents, updates) per bulk request sent to Elasticsearch",
            ["stage"],
            buckets=_DOCUMENT_BUCKETS,
            registry=reg,
        ),
        bulk_bytes=Histogram(
            "newsflow_es_bulk_bytes",
            "Body size of each bulk request sent to Elasticsearch, bytes",
            ["stage"],
            buckets=_BYTE_BUCKETS,
            registry=reg,
        ),
        retries=Counter(
            "newsflow_es_retries",
            "Requests or bulk items tried again after a transient failure, by reason",
            ["stage", "reason"],
            registry=reg,
        ),
        request_seconds=Histogram(
            "newsflow_es_request_seconds",
            "Time of each Elasticsearch request, failed ones included, by operation",
            ["stage", "operation"],
            buckets=_LATENCY_BUCKETS,
            registry=reg,
        ),
    )
    for reason in RETRY_REASONS:
        # Present at 0 from the start, so a rate() sees the first retry.
        series.retries.labels(series.stage, reason)
    _SERIES[stage] = series
    return series


class IndexerMetrics:
    """Records the indexer's series in the registry ``stage()`` returns; without one, nothing."""

    def __init__(self, stage: Callable[[], StageMetrics] | None = None) -> None:
        self._stage = stage

    def _now(self) -> _Series | None:
        return _series(self._stage()) if self._stage is not None else None

    def bulk_request(self, actions: int, size: int) -> None:
        """One bulk request of ``actions`` actions and a ``size``-byte body was sent."""
        series = self._now()
        if series is not None:
            series.bulk_documents.labels(series.stage).observe(actions)
            series.bulk_bytes.labels(series.stage).observe(size)

    def retried(self, reason: str, count: int = 1) -> None:
        """``count`` requests or items are tried again; ``reason`` is a :data:`RETRY_REASONS`."""
        if self._stage is not None:
            # Waiting out Elasticsearch is work: the stall guard must not restart it.
            self._stage().alive()
        series = self._now()
        if series is not None and count:
            series.retries.labels(series.stage, reason).inc(count)

    def request_took(self, operation: str, seconds: float) -> None:
        series = self._now()
        if series is not None:
            series.request_seconds.labels(series.stage, operation).observe(seconds)

    async def timed(self, operation: str, call: Callable[[], Awaitable[T]]) -> T:
        """``await call()``, its time recorded under ``operation`` whatever the outcome."""
        started = time.perf_counter()
        try:
            return await call()
        finally:
            self.request_took(operation, time.perf_counter() - started)
