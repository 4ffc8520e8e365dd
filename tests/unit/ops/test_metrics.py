"""The metrics registry of a stage and how a worker finds its port."""

from __future__ import annotations

import socket
from dataclasses import dataclass

import pytest
from faust.types import TP
from prometheus_client import generate_latest

from shared.metrics import DEFAULT_PORTS, MetricsSettings, StageMetrics, bind_port


@dataclass
class _Message:
    topic: str
    partition: int
    offset: int
    acked: bool = False

    @property
    def tp(self) -> TP:
        return TP(self.topic, self.partition)


@dataclass
class _Event:
    message: _Message


def _events(topic: str, partition: int, offsets: range) -> list[_Event]:
    return [_Event(_Message(topic, partition, o)) for o in offsets]


def test_counts_and_lag_of_the_partitions_processed() -> None:
    metrics = StageMetrics("cleaner")
    metrics.received(_events("news.raw", 0, range(10, 15)))  # type: ignore[arg-type]
    metrics.processed("news.raw", 5, 0.2)
    metrics.sent("news.clean", 4)
    metrics.dead_lettered("invalid-message")
    metrics.set_lag({TP("news.raw", 0): 40, TP("news.raw", 1): 7}, {TP("news.raw", 1): 3})
    text = generate_latest(metrics.registry).decode()
    assert 'newsflow_messages_in_total{stage="cleaner",topic="news.raw"} 5.0' in text
    assert 'newsflow_messages_out_total{stage="cleaner",topic="news.clean"} 4.0' in text
    assert 'newsflow_dead_letters_total{reason="invalid-message",stage="cleaner"} 1.0' in text
    assert 'newsflow_batch_seconds_count{stage="cleaner",topic="news.raw"} 1.0' in text
    # Partition 0: processed up to offset 14, end 40; partition 1: from the fetch position.
    assert 'newsflow_consumer_lag{partition="0",stage="cleaner",topic="news.raw"} 25.0' in text
    assert 'newsflow_consumer_lag{partition="1",stage="cleaner",topic="news.raw"} 4.0' in text


def test_lag_forgets_partitions_that_moved_away() -> None:
    metrics = StageMetrics("indexer")
    metrics.received(_events("news.unique", 3, range(5)))  # type: ignore[arg-type]
    metrics.forget_unassigned([TP("news.unique", 4)])
    assert not metrics.has_processed(TP("news.unique", 3))
    metrics.set_lag({TP("news.unique", 4): None}, {})
    assert "newsflow_consumer_lag{" not in generate_latest(metrics.registry).decode()


def test_two_stages_in_one_process_do_not_clash() -> None:
    StageMetrics("dedup")
    StageMetrics("dedup")  # a registry each: no duplicate-series error


def test_port_setting_per_stage(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSFLOW_DEDUP_METRICS_PORT", "0")
    assert MetricsSettings.for_stage("dedup").port_for("dedup") == 0
    assert MetricsSettings.for_stage("cleaner").port_for("cleaner") == DEFAULT_PORTS["cleaner"]


def test_a_taken_port_falls_back_to_a_free_one() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        sock = bind_port("127.0.0.1", port)
        try:
            assert sock.getsockname()[1] not in (port, 0)
        finally:
            sock.close()


def test_a_batch_its_stage_settles_is_in_flight_until_acknowledged() -> None:
    metrics = StageMetrics("indexer")
    events = _events("news.unique", 0, range(3))
    metrics.unsettled(events)  # type: ignore[arg-type]
    assert metrics.busy()
    for event in events:
        event.message.acked = True
    assert not metrics.busy()
