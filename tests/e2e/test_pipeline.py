"""The whole pipeline: demo site → fetcher → cleaner → dedup → indexer → search.

Every stage runs as its own process on real Kafka and Elasticsearch, as
``make run`` starts them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from newsflow.demo.content import ARTICLES, SYNDICATED
from newsflow.demo.server import DemoServer, demo_sources
from newsflow.feeds import put_sources
from newsflow.search import search
from shared import codec
from shared.elastic import sync_client
from shared.models import DeadLetter, FeedSource
from shared.settings import CommonSettings
from tests.helpers import Services, consume, produce, wait_for


@pytest.fixture
def demo_site() -> Iterator[DemoServer]:
    server = DemoServer()
    server.start_in_thread()
    yield server
    server.shutdown()


def _indexed(common: CommonSettings) -> int:
    with sync_client(common) as es:
        es.indices.refresh(index=common.read_alias)
        return int(es.count(index=common.read_alias)["count"])


def _distinctive_word(paragraphs: tuple[str, ...]) -> str:
    """A long word of the article's body that no other demo story uses."""
    others = " ".join(p for a in ARTICLES if a.paragraphs != paragraphs for p in a.paragraphs)
    words = sorted(
        set(re.findall(r"[a-z]{7,}", " ".join(paragraphs).lower())), key=len, reverse=True
    )
    return next(w for w in words if w not in others.lower())


async def test_demo_articles_flow_to_search_once_and_bad_input_is_dead_lettered(
    common: CommonSettings, services: Services, demo_site: DemoServer
) -> None:
    broken = FeedSource(
        id="broken-feed", kind="rss", url=f"{demo_site.base_url}/broken/feed.xml", interval_s=5
    )
    await put_sources(common, [*demo_sources(demo_site.base_url, interval_s=5), broken])
    # An invalid message straight onto news.raw, as a buggy producer might send.
    await produce(common, common.topics.raw, [(b"junk", b'{"id": "no-such-shape"}')])
    for stage in ("fetcher", "cleaner", "dedup", "indexer"):
        services.start(stage)

    distinct = [a for a in ARTICLES if a.path not in SYNDICATED]
    assert wait_for(lambda: _indexed(common) >= len(distinct), 150, services=services), (
        services.logs()
    )

    with sync_client(common) as es:
        for article in distinct:
            word = _distinctive_word(article.paragraphs)
            result = search(es, common.read_alias, word)
            titles = [h["title"] for h in result["hits"]]
            assert article.title in titles, f"{word!r} did not find {article.title!r}"
        ferry = search(es, common.read_alias, "battery ferries Port Meridian")
    # The syndicated story is there once, carried by all three outlets.
    ferry_hits = [h for h in ferry["hits"] if "ferries" in (h["title"] or "").lower()]
    assert len(ferry_hits) == 1, ferry_hits
    assert wait_for(lambda: _ferry_coverage(common) == 3, 60), _ferry_coverage(common)

    letters = await consume(
        common,
        common.topics.deadletter,
        until=lambda rs: {"cleaner", "fetcher"} <= _stages(rs),
        timeout_s=60,
    )
    decoded = [codec.decode(DeadLetter, value) for _, value in letters]
    reasons = {(d.stage, d.reason) for d in decoded}
    assert ("cleaner", "invalid-message") in reasons, reasons
    assert ("fetcher", "malformed-feed") in reasons, reasons
    # The other sources carried on regardless, and nothing was indexed twice.
    assert _indexed(common) == len(distinct)


def _stages(records: list[tuple[bytes | None, bytes | None]]) -> set[str]:
    stages = set()
    for _, value in records:
        try:
            stages.add(codec.decode(DeadLetter, value).stage)
        except Exception:
            continue
    return stages


def _ferry_coverage(common: CommonSettings) -> int:
    with sync_client(common) as es:
        es.indices.refresh(index=common.read_alias)
        hits = es.search(
            index=common.read_alias, query={"match": {"title": "ferries"}}, source=["coverage"]
        )["hits"]["hits"]
    return int(hits[0]["_source"]["coverage"]["count"]) if hits else 0
