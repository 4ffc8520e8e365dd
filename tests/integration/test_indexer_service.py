"""The indexer worker against real Kafka and Elasticsearch."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from shared import codec
from shared.elastic import sync_client
from shared.models import CleanArticle, DeadLetter, UniqueArticle
from shared.settings import CommonSettings
from tests.helpers import Services, consume, produce, wait_for


def _article(n: int, source: str = "src-a") -> CleanArticle:
    return CleanArticle(
        id=f"article-{n:05d}",
        source_id=source,
        url=f"http://example.test/{n}",
        canonical_url=f"http://example.test/{n}",
        fetched_at=datetime.now(UTC),
        title=f"Headline number {n}",
        text=f"Body of article {n} about zebrafish{n} migration.",
        language="en",
        word_count=7,
    )


def _unique(n: int) -> bytes:
    article = _article(n)
    return codec.encode(UniqueArticle(kind="unique", article=article, story_id=article.id))


def _count(common: CommonSettings) -> int:
    with sync_client(common) as es:
        es.indices.refresh(index=common.read_alias)
        return int(es.count(index=common.read_alias)["count"])


async def test_indexes_each_article_once_even_when_redelivered(
    common: CommonSettings, services: Services
) -> None:
    records = [(f"article-{n:05d}".encode(), _unique(n)) for n in range(300)]
    await produce(common, common.topics.unique, records)
    # The same 100 articles again, as a replay or redelivery would bring them.
    await produce(common, common.topics.unique, records[:100])
    services.start("indexer")
    assert wait_for(lambda: _count(common) >= 300, 90, services=services), services.logs()
    with sync_client(common) as es:
        es.indices.refresh(index=common.read_alias)
        hit = es.search(index=common.read_alias, query={"match": {"text": "zebrafish42"}})
    assert [h["_id"] for h in hit["hits"]["hits"]] == ["article-00042"]
    # Everything was consumed by now; nothing may have created a second copy.
    assert _count(common) == 300


async def test_exact_duplicate_adds_coverage_not_a_document(
    common: CommonSettings, services: Services
) -> None:
    original = UniqueArticle(kind="unique", article=_article(1, "src-a"), story_id="article-00001")
    copy_article = _article(2, "src-b")
    copy = UniqueArticle(
        kind="exact",
        article=copy_article,
        story_id="article-00001",
        duplicate_of="article-00001",
        similarity=1.0,
    )
    await produce(
        common,
        common.topics.unique,
        [(b"article-00001", codec.encode(original)), (b"article-00002", codec.encode(copy))],
    )
    services.start("indexer")

    def covered() -> bool:
        with sync_client(common) as es:
            doc = es.get(index=common.read_alias, id="article-00001", ignore=[404])
        return bool(doc.get("found")) and doc["_source"]["coverage"]["count"] == 2

    assert wait_for(covered, 90, services=services), services.logs()
    assert _count(common) == 1


async def test_invalid_message_is_dead_lettered_and_the_rest_indexed(
    common: CommonSettings, services: Services
) -> None:
    await produce(
        common,
        common.topics.unique,
        [
            (b"bad-1", b"{not json"),
            (b"article-00007", _unique(7)),
            (b"bad-2", json.dumps({"kind": "unique"}).encode()),
        ],
    )
    services.start("indexer")
    letters = await consume(
        common, common.topics.deadletter, until=lambda r: len(r) >= 2, timeout_s=90
    )
    decoded = [codec.decode(DeadLetter, value) for _, value in letters]
    assert sorted(d.reason for d in decoded) == ["invalid-message", "invalid-message"]
    assert {d.stage for d in decoded} == {"indexer"}
    assert wait_for(lambda: _count(common) == 1, 60, services=services), services.logs()
