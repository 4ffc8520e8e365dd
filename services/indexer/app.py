"""Wiring of the indexer: news.unique → bulk writes → offsets committed after the write."""

from __future__ import annotations

import logging
from typing import Any

import faust
from elasticsearch import AsyncElasticsearch
from faust.types import EventT, StreamT

from services.indexer.bulk import Backoff, BulkIndexer
from services.indexer.settings import IndexerSettings
from shared import codec
from shared.elastic import client
from shared.exceptions import PoisonMessage
from shared.kafka import Emitter, batches, make_app, raw_topic
from shared.models import UniqueArticle

STAGE = "indexer"

log = logging.getLogger(__name__)


def build(settings: IndexerSettings, es: AsyncElasticsearch | None = None) -> faust.App:
    """The indexer's Faust app; ``es`` defaults to a client built from settings."""
    common = settings.common
    app = make_app(settings.app_id, common)
    topics = common.topics
    source = raw_topic(app, topics.unique)
    deadletter = raw_topic(app, topics.deadletter)
    es_client = es or client(common, request_timeout=settings.request_timeout_s)
    indexer = BulkIndexer(
        es_client,
        common.write_alias,
        common.read_alias,
        backoff=lambda: Backoff(settings.retry_initial_s, settings.retry_max_s),
    )

    @app.agent(source)
    async def index_articles(stream: StreamT[bytes]) -> None:
        async for events in batches(stream, settings.batch_size, settings.batch_within_s):
            emitter = Emitter(app, STAGE, deadletter)
            batch: list[tuple[EventT[Any], UniqueArticle]] = []
            size = 0
            for event in events:
                try:
                    batch.append((event, codec.decode(UniqueArticle, event.value)))
                    size += len(event.value or b"")
                except PoisonMessage as exc:
                    await emitter.dead_letter(event, exc)
                if size >= settings.batch_bytes:
                    await _write(indexer, emitter, batch)
                    batch, size = [], 0
            await _write(indexer, emitter, batch)
            await emitter.confirm()
            log.info("indexed batch", extra={"count": len(events), "dead": emitter.dead})

    return app


async def _write(
    indexer: BulkIndexer, emitter: Emitter, batch: list[tuple[EventT[Any], UniqueArticle]]
) -> None:
    if not batch:
        return
    rejections = await indexer.index([m for _, m in batch])
    for rejection in rejections:
        event, _ = batch[rejection.position]
        await emitter.dead_letter(event, PoisonMessage(rejection.reason, rejection.error))
