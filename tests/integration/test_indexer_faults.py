"""The indexer through Elasticsearch outages, against real Kafka and Elasticsearch.

The outage test stops and starts an Elasticsearch of its own (port 19201, own
run dir), so the test run's shared server stays up for everyone else.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient

from shared import codec
from shared.elastic import sync_client
from shared.models import CleanArticle, UniqueArticle
from shared.settings import CommonSettings
from tests.conftest import LOCAL, REPO, TEST_ENV, Infra
from tests.helpers import (
    Services,
    free_port,
    produce,
    sample,
    scrape,
    service_env,
    setup_infra,
    wait_for,
)

# A second Elasticsearch next to the shared one (19201 and 19401-19499 with
# the default port base), on ports no other test server uses.
_SHARED_ES_PORT = int(TEST_ENV["NEWSFLOW_ES_PORT"])
OWN_ES_ENV = {
    **TEST_ENV,
    "NEWSFLOW_INFRA_RUN": str(REPO / ".cache" / "test-infra-es-outage"),
    "NEWSFLOW_ES_PORT": str(_SHARED_ES_PORT + 1),
    "NEWSFLOW_ES_TRANSPORT_PORT": f"{_SHARED_ES_PORT + 201}-{_SHARED_ES_PORT + 299}",
    # Small: it holds a few thousand short test documents.
    "NEWSFLOW_ES_HEAP": "512m",
}


class OwnElasticsearch:
    """An Elasticsearch only this module uses, so stopping it disturbs nobody."""

    url = f"http://127.0.0.1:{OWN_ES_ENV['NEWSFLOW_ES_PORT']}"

    def local(self, *args: str) -> None:
        subprocess.run([str(LOCAL), *args, "es"], check=True, env={**os.environ, **OWN_ES_ENV})


@pytest.fixture(scope="module")
def own_es(infra: Infra) -> Iterator[OwnElasticsearch]:
    handle = OwnElasticsearch()
    handle.local("up")
    yield handle
    handle.local("down")


def _article(n: int) -> bytes:
    article = CleanArticle(
        id=f"article-{n:05d}",
        source_id="src-a",
        url=f"http://example.test/{n}",
        canonical_url=f"http://example.test/{n}",
        fetched_at=datetime.now(UTC),
        title=f"Headline number {n}",
        text=f"Body of article {n} about the outage of the search cluster.",
        language="en",
        word_count=11,
    )
    return codec.encode(UniqueArticle(kind="unique", article=article, story_id=article.id))


async def _committed(common: CommonSettings, group: str) -> int:
    """How many messages of news.unique the group has committed, over all partitions."""
    admin = AIOKafkaAdminClient(bootstrap_servers=common.kafka_bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    return sum(o.offset for tp, o in offsets.items() if tp.topic == common.topics.unique)


def _logged(services: Services, event: str) -> bool:
    return any(event in s.log_path.read_text(errors="replace") for s in services.started)


async def test_a_worker_stopped_during_an_outage_commits_nothing_it_did_not_index(
    common: CommonSettings, services: Services
) -> None:
    await produce(
        common, common.topics.unique, [(f"a-{n}".encode(), _article(n)) for n in range(50)]
    )
    # Nothing listens on port 9 (discard): every request fails to connect.
    port = free_port()
    worker = services.start(
        "indexer", NEWSFLOW_ES_URL="http://127.0.0.1:9", NEWSFLOW_INDEXER_METRICS_PORT=str(port)
    )
    assert wait_for(lambda: _logged(services, "elasticsearch unavailable"), 60), services.logs()
    # The retries are counted as connection failures, and timed.
    assert wait_for(
        lambda: (
            sample(scrape(port), "newsflow_es_retries_total", reason="connection", stage="indexer")
            >= 1
        ),
        30,
    ), services.logs()
    worker.stop()
    assert worker.proc is not None and worker.proc.returncode is not None
    assert await _committed(common, f"{common.index_prefix}-indexer") == 0


@pytest.mark.slow
async def test_elasticsearch_down_for_60s_mid_stream(
    own_es: OwnElasticsearch, infra: Infra, tmp_path: Path
) -> None:
    common = infra.common().model_copy(update={"es_url": own_es.url})
    await setup_infra(common)
    services = Services(
        tmp_path,
        service_env(
            common,
            NEWSFLOW_INDEXER_BATCH_SIZE="200",
            # Recover within a couple of seconds of Elasticsearch's return.
            NEWSFLOW_INDEXER_RETRY_MAX_S="2",
            # Roll over during the stream, so "none twice" also covers the
            # guard across backing indices.
            NEWSFLOW_INDEXER_ROLLOVER_MAX_DOCS="1500",
            NEWSFLOW_INDEXER_ROLLOVER_CHECK_S="2",
            NEWSFLOW_INDEXER_LAYOUT_TTL_S="1",
        ),
    )
    total = 5000
    try:
        worker = services.start("indexer")

        async def stream(first: int, last: int, per_s: float) -> None:
            for start in range(first, last, 100):
                records = [(f"a-{n}".encode(), _article(n)) for n in range(start, start + 100)]
                await produce(common, common.topics.unique, records)
                await asyncio.sleep(100 / per_s)

        # The first 2,000 at ~500/s, and wait until the write index rolled
        # over (at 1,500): waiting for a count alone let Elasticsearch stop
        # first, and the rest came back in one burst that was indexed before
        # the next rollover check.
        await stream(0, 2000, 500)
        assert wait_for(
            lambda: _count(common) >= 1600 and _backing_indices(common) >= 2, 60, services=services
        ), services.logs()

        own_es.local("down")
        stopped_at = time.time()
        # The stream goes on while Elasticsearch is down.
        await stream(2000, total, 100)
        await asyncio.sleep(max(0.0, 60 - (time.time() - stopped_at)))
        assert worker.alive(), services.logs()
        own_es.local("up")

        assert wait_for(lambda: _count(common) >= total, 120, services=services), services.logs()
        assert worker.alive(), services.logs()
        assert _logged(services, "elasticsearch unavailable")
    finally:
        services.stop_all()

    with sync_client(common) as es:
        es.indices.refresh(index=common.read_alias)
        assert _count(common) == total
        twice = es.search(
            index=common.read_alias,
            size=0,
            aggs={"ids": {"terms": {"field": "id", "min_doc_count": 2, "size": 10}}},
        )
        assert twice["aggregations"]["ids"]["buckets"] == []


def _backing_indices(common: CommonSettings) -> int:
    with sync_client(common) as es:
        return len(es.indices.get_alias(name=common.read_alias))


def _count(common: CommonSettings) -> int:
    with sync_client(common) as es:
        es.indices.refresh(index=common.read_alias)
        return int(es.count(index=common.read_alias)["count"])
