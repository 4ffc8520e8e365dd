"""The indexer's own metrics: what is recorded, under which labels, in which registry."""

from __future__ import annotations

import asyncio

import pytest

from services.indexer.metrics import IndexerMetrics, retry_reason, status_reason
from shared.metrics import StageMetrics


def _value(stage: StageMetrics, name: str, **labels: str) -> float:
    value = stage.registry.get_sample_value(name, {"stage": stage.stage, **labels})
    return value if value is not None else 0.0


def test_bulk_requests_are_counted_by_actions_and_bytes() -> None:
    stage = StageMetrics("indexer")
    metrics = IndexerMetrics(lambda: stage)
    metrics.bulk_request(500, 2_100_000)
    metrics.bulk_request(3, 9_000)
    assert _value(stage, "newsflow_es_bulk_documents_count") == 2
    assert _value(stage, "newsflow_es_bulk_documents_sum") == 503
    assert _value(stage, "newsflow_es_bulk_bytes_sum") == 2_109_000
    # 3 actions fall in the bucket up to 5; 500 in the one up to 500.
    assert _value(stage, "newsflow_es_bulk_documents_bucket", le="5.0") == 1
    assert _value(stage, "newsflow_es_bulk_documents_bucket", le="500.0") == 2
    assert _value(stage, "newsflow_es_bulk_bytes_bucket", le="10000.0") == 1


def test_retries_are_counted_by_reason_and_start_at_zero() -> None:
    stage = StageMetrics("indexer")
    metrics = IndexerMetrics(lambda: stage)
    metrics.retried("429", 3)
    # Every reason is exported before its first retry.
    for reason in ("429", "5xx", "timeout", "connection"):
        assert stage.registry.get_sample_value(
            "newsflow_es_retries_total", {"stage": "indexer", "reason": reason}
        ) == (3 if reason == "429" else 0)


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("status-429", "429"),
        ("status-500", "5xx"),
        ("status-503", "5xx"),
        ("status-408", "timeout"),
        ("timeout", "timeout"),
        ("connection", "connection"),
        ("transport", "connection"),
    ],
)
def test_retry_reason_of_transient_failures(code: str, reason: str) -> None:
    assert retry_reason(code) == reason


def test_status_reason_of_bulk_items() -> None:
    assert [status_reason(s) for s in (429, 408, 500, 502, 503, 504)] == [
        "429",
        "timeout",
        "5xx",
        "5xx",
        "5xx",
        "5xx",
    ]


def test_request_latency_is_recorded_for_failed_requests_too() -> None:
    stage = StageMetrics("indexer")
    metrics = IndexerMetrics(lambda: stage)

    async def ok() -> int:
        return 7

    async def fails() -> int:
        raise ConnectionError("refused")

    async def run() -> None:
        assert await metrics.timed("bulk", ok) == 7
        with pytest.raises(ConnectionError):
            await metrics.timed("bulk", fails)
        await metrics.timed("mget", ok)

    asyncio.run(run())
    assert _value(stage, "newsflow_es_request_seconds_count", operation="bulk") == 2
    assert _value(stage, "newsflow_es_request_seconds_count", operation="mget") == 1


def test_the_registry_is_looked_up_when_recording() -> None:
    # The worker attaches its registry after the app (and these metrics) were built.
    current = [StageMetrics("early")]
    metrics = IndexerMetrics(lambda: current[0])
    metrics.bulk_request(1, 100)
    current[0] = StageMetrics("indexer")
    metrics.bulk_request(2, 200)
    # A second recorder on the same registry shares its series (no duplicate names).
    IndexerMetrics(lambda: current[0]).bulk_request(4, 400)
    assert _value(current[0], "newsflow_es_bulk_documents_sum") == 6


def test_without_a_registry_nothing_is_recorded() -> None:
    metrics = IndexerMetrics()
    metrics.bulk_request(1, 1)
    metrics.retried("5xx")
    metrics.request_took("bulk", 0.1)
