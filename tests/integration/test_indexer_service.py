"""The indexer worker against real Kafka and Elasticsearch."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient

from services.indexer.settings import deadletter_index
from shared import codec
from shared.elastic import sync_client
from shared.models import CleanArticle, DeadLetter, UniqueArticle
from shared.settings import CommonSettings
from tests.helpers import Services, consume, free_port, produce, sample, scrape, wait_for


def _article(n: int, source: str = "src-a", **changes: Any) -> CleanArticle:
    fields: dict[str, Any] = {
        "id": f"article-{n:05d}",
        "source_id": source,
        "url": f"http://example.test/{n}",
        "canonical_url": f"http://example.test/{n}",
        "fetched_at": datetime.now(UTC),
        "title": f"Headline number {n}",
        "text": f"Body of article {n} about zebrafish{n} migration.",
        "language": "en",
        "word_count": 7,
    }
    fields.update(changes)
    return CleanArticle(**fields)


def _unique(n: int, **changes: Any) -> bytes:
    article = _article(n, **changes)
    return codec.encode(UniqueArticle(kind="unique", article=article, story_id=article.id))


async def _committed(common: CommonSettings) -> int:
    """Messages of news.unique the indexer's group has committed, over all partitions."""
    admin = AIOKafkaAdminClient(bootstrap_servers=common.kafka_bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(f"{common.index_prefix}-indexer")
    finally:
        await admin.close()
    return sum(o.offset for tp, o in offsets.items() if tp.topic == common.topics.unique)


def _get(common: CommonSettings, doc_id: str) -> dict[str, Any] | None:
    """The document ``doc_id`` wherever it is behind the read alias, with its index."""
    with sync_client(common) as es:
        es.indices.refresh(index=common.read_alias)
        hits = es.search(index=common.read_alias, query={"ids": {"values": [doc_id]}})
    found = hits["hits"]["hits"]
    assert len(found) <= 1, f"{doc_id} is indexed {len(found)} times"
    return {"_index": found[0]["_index"], **found[0]["_source"]} if found else None


def _ids_twice(common: CommonSettings) -> list[str]:
    with sync_client(common) as es:
        es.indices.refresh(index=common.read_alias)
        response = es.search(
            index=common.read_alias,
            size=0,
            aggs={"ids": {"terms": {"field": "id", "min_doc_count": 2, "size": 10}}},
        )
    return [b["key"] for b in response["aggregations"]["ids"]["buckets"]]


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
    # Small batches, two written at once: they finish out of order.
    services.start("indexer", NEWSFLOW_INDEXER_BATCH_SIZE="40", NEWSFLOW_INDEXER_MAX_IN_FLIGHT="2")
    assert wait_for(lambda: _count(common) >= 300, 90, services=services), services.logs()
    with sync_client(common) as es:
        es.indices.refresh(index=common.read_alias)
        hit = es.search(index=common.read_alias, query={"match": {"text": "zebrafish42"}})
    assert [h["_id"] for h in hit["hits"]["hits"]] == ["article-00042"]
    # Everything was consumed by now; nothing may have created a second copy.
    assert _count(common) == 300
    # The offsets follow the documents: all 400 messages are committed.
    deadline = asyncio.get_running_loop().time() + 30
    while await _committed(common) < 400 and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.5)
    assert await _committed(common) == 400


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
            doc = es.options(ignore_status=404).get(index=common.read_alias, id="article-00001")
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


async def test_documents_elasticsearch_refuses_are_dead_lettered_and_the_rest_indexed(
    common: CommonSettings, services: Services
) -> None:
    await produce(
        common,
        common.topics.unique,
        [
            (b"article-00001", _unique(1)),
            # An integer field out of range: the strict mapping refuses it.
            (b"article-00002", _unique(2, word_count=2**40)),
            (b"article-00003", _unique(3)),
            # An id Elasticsearch takes only up to 512 bytes.
            (b"long", _unique(4, id="x" * 600)),
        ],
    )
    services.start("indexer")
    letters = await consume(
        common, common.topics.deadletter, until=lambda r: len(r) >= 2, timeout_s=90
    )
    decoded = {d.reason: d for d in (codec.decode(DeadLetter, v) for _, v in letters)}
    assert set(decoded) == {"es-document_parsing_exception", "invalid-id"}
    refused = decoded["es-document_parsing_exception"]
    assert "word_count" in refused.error and refused.key == "article-00002"
    assert refused.stage == "indexer" and refused.topic == common.topics.unique
    assert wait_for(lambda: _count(common) == 2, 60, services=services), services.logs()
    assert _get(common, "article-00001") and _get(common, "article-00003")

    # The indexer also copies the dead letters into the index the dashboard counts.
    def copied() -> int:
        with sync_client(common) as es:
            es.indices.refresh(index=deadletter_index(common))
            return int(es.count(index=deadletter_index(common))["count"])

    assert wait_for(lambda: copied() == 2, 60, services=services), services.logs()


async def test_near_duplicates_and_copies_count_for_the_story(
    common: CommonSettings, services: Services
) -> None:
    lead = UniqueArticle(kind="unique", article=_article(1, "src-a"), story_id="article-00001")
    near = UniqueArticle(
        kind="near",
        article=_article(2, "src-b"),
        story_id="article-00001",
        duplicate_of="article-00001",
        similarity=0.8,
    )
    copy_of_near = UniqueArticle(
        kind="exact",
        article=_article(3, "src-c"),
        story_id="article-00001",
        duplicate_of="article-00002",
        similarity=1.0,
    )
    # The story's members first: their coverage waits for the lead.
    await produce(
        common,
        common.topics.unique,
        [(b"article-00002", codec.encode(near)), (b"article-00003", codec.encode(copy_of_near))],
    )
    services.start("indexer")
    await asyncio.sleep(3)
    await produce(common, common.topics.unique, [(b"article-00001", codec.encode(lead))])

    def story_counted() -> bool:
        doc = _get(common, "article-00001")
        return doc is not None and doc["coverage"]["count"] == 3

    assert wait_for(story_counted, 90, services=services), services.logs()
    lead_doc = _get(common, "article-00001")
    near_doc = _get(common, "article-00002")
    assert lead_doc and near_doc
    assert lead_doc["coverage"]["sources"] == ["src-a", "src-b", "src-c"]
    assert lead_doc["story_lead"] is True and near_doc["story_lead"] is False
    assert near_doc["coverage"] == {"sources": ["src-b", "src-c"], "count": 2}
    assert _count(common) == 2


async def test_across_rollover_nothing_is_created_twice_and_a_change_is_an_update(
    common: CommonSettings, services: Services
) -> None:
    first = [(f"article-{n:05d}".encode(), _unique(n)) for n in range(100)]
    await produce(common, common.topics.unique, first)
    services.start("indexer", NEWSFLOW_INDEXER_LAYOUT_TTL_S="0.5")
    assert wait_for(lambda: _count(common) == 100, 90, services=services), services.logs()
    with sync_client(common) as es:
        rolled = es.indices.rollover(alias=common.write_alias)
    old, new = rolled["old_index"], rolled["new_index"]
    await asyncio.sleep(1.5)  # longer than the worker's layout cache

    changed = _unique(5, title="Headline number 5, corrected", fetched_at=datetime.now(UTC))
    stale = _unique(6, title="An older draft", fetched_at=datetime.now(UTC) - timedelta(days=1))
    await produce(
        common,
        common.topics.unique,
        [
            *first,  # a replay of everything, now that the write index is another
            *[(f"article-{n:05d}".encode(), _unique(n)) for n in range(100, 120)],
            (b"article-00005", changed),
            (b"article-00006", stale),
        ],
    )

    def corrected() -> bool:
        doc = _get(common, "article-00005")
        return doc is not None and doc["title"].endswith("corrected")

    assert wait_for(lambda: _count(common) == 120, 90, services=services), services.logs()
    assert wait_for(corrected, 60, services=services), services.logs()
    await asyncio.sleep(2)  # let any late second copy show up
    assert _count(common) == 120
    assert _ids_twice(common) == []
    with sync_client(common) as es:
        es.indices.refresh(index=common.read_alias)
        assert es.count(index=new)["count"] == 20
        assert es.count(index=old)["count"] == 100
    updated = _get(common, "article-00005")
    assert updated and updated["_index"] == old and updated["updated_at"]
    untouched = _get(common, "article-00006")
    assert untouched and untouched["title"] == "Headline number 6"


async def test_worker_exposes_bulk_sizes_retries_and_latency(
    common: CommonSettings, services: Services
) -> None:
    records = [(f"article-{n:05d}".encode(), _unique(n)) for n in range(120)]
    await produce(common, common.topics.unique, records)
    port = free_port()
    services.start(
        "indexer", NEWSFLOW_INDEXER_BATCH_SIZE="50", NEWSFLOW_INDEXER_METRICS_PORT=str(port)
    )
    assert wait_for(lambda: _count(common) >= 120, 90, services=services), services.logs()

    def bulk_documents() -> float:
        return sample(scrape(port), "newsflow_es_bulk_documents_sum", stage="indexer")

    # Every article went out in some bulk request, at most 50 per request.
    assert wait_for(lambda: bulk_documents() >= 120, 30, services=services), scrape(port)
    text = scrape(port)
    requests = sample(text, "newsflow_es_bulk_documents_count", stage="indexer")
    assert 3 <= requests <= 120
    assert sample(text, "newsflow_es_bulk_documents_bucket", le="50.0") == requests
    # Each article is a few hundred bytes of JSON.
    assert sample(text, "newsflow_es_bulk_bytes_sum") >= 120 * 200
    assert sample(text, "newsflow_es_request_seconds_count", operation="bulk") >= requests
    assert sample(text, "newsflow_es_request_seconds_count", operation="get_alias") >= 1
    # No outage here: every retry reason is exported, at zero.
    for reason in ("429", "5xx", "timeout", "connection"):
        assert f'newsflow_es_retries_total{{reason="{reason}",stage="indexer"}} 0.0' in text
