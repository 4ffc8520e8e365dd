"""Metrics and health endpoints of a real worker: counts, dead letters, lag, port clash."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request

from bench.pipeline.site import raw_article
from shared import codec
from shared.settings import CommonSettings
from tests.helpers import Service, Services, free_port, produce, sample, wait_for


def _get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except OSError:
        return 0, ""


def _served_port(service: Service) -> int | None:
    """The port a worker says it serves its metrics on (its log)."""
    for line in service.log_path.read_text(errors="replace").splitlines():
        if '"serving metrics"' in line:
            return int(json.loads(line)["port"])
    return None


async def test_worker_serves_counts_dead_letters_lag_and_health(
    kafka_only: CommonSettings, workers: Services
) -> None:
    common, services = kafka_only, workers
    port = free_port()
    first = services.start("cleaner", 1, NEWSFLOW_CLEANER_METRICS_PORT=str(port))
    assert wait_for(lambda: _get(port, "/readyz")[0] == 200, 90, services=services), services.logs()
    # A second worker of the stage on this host wants the same port: it starts
    # on another one instead of dying.
    second = services.start("cleaner", 2, NEWSFLOW_CLEANER_METRICS_PORT=str(port))
    assert wait_for(lambda: _served_port(second) is not None, 60, services=services), (
        services.logs()
    )
    other = _served_port(second)
    assert other is not None and other != port
    # Both ready: the second worker's join makes the first one rebalance too.
    assert wait_for(
        lambda: _get(other, "/readyz")[0] == 200 and _get(port, "/readyz")[0] == 200,
        120,
        services=services,
    )

    base = "http://127.0.0.1:1"
    pages = [(a.id.encode(), codec.encode(a)) for a in (raw_article(n, base) for n in range(6))]
    junk = [(b"junk-1", b"not json"), (b"junk-2", b'{"id": 3}')]
    await produce(common, common.topics.raw, [*pages, *junk])

    def totals() -> tuple[float, float, float, float]:
        texts = [_get(p, "/metrics")[1] for p in (port, other)]
        return (
            sum(sample(t, "newsflow_messages_in_total", stage="cleaner") for t in texts),
            sum(sample(t, "newsflow_messages_out_total", topic=common.topics.clean) for t in texts),
            sum(sample(t, "newsflow_dead_letters_total", reason="invalid-message") for t in texts),
            sum(sample(t, "newsflow_batch_seconds_count", stage="cleaner") for t in texts),
        )

    assert wait_for(lambda: totals()[:3] == (8, 6, 2), 120, services=services), (
        totals(),
        services.logs(),
    )
    assert totals()[3] >= 1
    metrics = _get(port, "/metrics")[1] + _get(other, "/metrics")[1]
    lags = re.findall(r'newsflow_consumer_lag\{.*topic="([^"]+)".*\} (\S+)', metrics)
    assert lags and all(t == common.topics.raw and float(v) == 0 for t, v in lags), lags
    assert _get(port, "/healthz")[0] == 200
    assert first.alive() and second.alive()
