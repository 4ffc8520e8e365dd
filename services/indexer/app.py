"""Wiring of the indexer: news.unique → bulk writes → offsets committed after the write.

A batch's events are acknowledged, and so their offsets committed, only
after Elasticsearch confirmed every document of the batch, or the document
was dead-lettered and Kafka confirmed the dead letter (see :class:`Pipeline`).
While Elasticsearch is down the batch's write waits, the agent waits for it,
the consumer's buffers fill and Faust pauses fetching: backpressure, not a
growing queue.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any, TypeVar

import faust
from elasticsearch import AsyncElasticsearch
from faust.types import EventT, StreamT

from services.indexer.bulk import BulkIndexer, Prepared, client_options, prepare
from services.indexer.deadletters import DeadLetterIndexer, Letter
from services.indexer.layout import Layout, managed_by_ilm, roll_over
from services.indexer.metrics import IndexerMetrics
from services.indexer.retry import Backoff, transient_reason
from services.indexer.settings import IndexerSettings, deadletter_index
from shared import codec
from shared.elastic import client
from shared.exceptions import PoisonMessage
from shared.kafka import Emitter, make_app, pipelined, raw_topic
from shared.metrics import metrics_for
from shared.models import DeadLetter, UniqueArticle

__all__ = ["STAGE", "Batch", "build", "prepare_batch", "split_by_size"]

STAGE = "indexer"

log = logging.getLogger(__name__)

T = TypeVar("T")


def build(settings: IndexerSettings, es: AsyncElasticsearch | None = None) -> faust.App:
    """The indexer's Faust app; ``es`` defaults to a client built from settings."""
    common = settings.common
    app = make_app(settings.app_id, common, consumer_max_fetch_size=settings.fetch_partition_bytes)
    source = raw_topic(app, common.topics.unique)
    deadletter = raw_topic(app, common.topics.deadletter)
    es_client = es or client(common, **client_options(settings.request_timeout_s))
    backoff = partial(Backoff, settings.retry_initial_s, settings.retry_max_s)
    # The worker attaches its registry after the app is built: looked up when recording.
    metrics = IndexerMetrics(lambda: metrics_for(app))
    layout = Layout(
        es_client,
        common.read_alias,
        common.write_alias,
        ttl_s=settings.layout_ttl_s,
        backoff=backoff,
        metrics=metrics,
    )
    indexer = BulkIndexer(es_client, layout, backoff=backoff, metrics=metrics)
    conditions = {
        "max_age": settings.rollover_max_age,
        "max_primary_shard_size": settings.rollover_max_primary_shard_size,
        "max_docs": settings.rollover_max_docs,
        # Never roll an empty index over just because it got old.
        "min_docs": 1,
    }

    @app.agent(source)
    async def index_articles(stream: StreamT[bytes]) -> None:
        async for events, pipeline in pipelined(
            stream, settings.batch_size, settings.batch_within_s, settings.max_in_flight
        ):
            # Decoding and building documents is most of the worker's own
            # work per batch: done here, while the previous batch is still
            # being written, so Elasticsearch does not wait for it.
            batch = prepare_batch(events, datetime.now(UTC))
            write = partial(_index_batch, app, indexer, deadletter, batch, settings, backoff)
            # Failures of Kafka (dead letters not confirmed) redo the batch.
            await pipeline.submit(events, partial(_until_done, write, backoff, len(events)))

    if settings.index_deadletters:
        letters = DeadLetterIndexer(
            es_client, deadletter_index(common), backoff=backoff, metrics=metrics
        )

        async def copy_letters(events: Sequence[EventT[Any]]) -> None:
            entries = [e for e in map(_letter, events) if e is not None]
            await _until_done(partial(letters.index, entries), backoff, len(entries))

        @app.agent(deadletter, name="index_deadletters")
        async def index_deadletters(stream: StreamT[bytes]) -> None:
            async for events, pipeline in pipelined(stream, settings.batch_size, 1.0, 1):
                await pipeline.submit(events, partial(copy_letters, events))

    @app.timer(settings.rollover_check_s, on_leader=True)  # type: ignore[untyped-decorator]
    async def rollover() -> None:
        await _roll_over(es_client, layout, common.write_alias, conditions)

    async def partitions_moved(sender: Any, assigned: Any, **kwargs: Any) -> None:
        layout.invalidate()

    # mode's handler type wants ``signal`` as a named parameter; it comes in kwargs.
    app.on_partitions_assigned.connect(partitions_moved)  # type: ignore[arg-type]

    return app


@dataclass
class Batch:
    """A batch's events, decoded and their documents built, or refused as poison."""

    articles: list[tuple[EventT[Any], Prepared]] = field(default_factory=list)
    poison: list[tuple[EventT[Any], PoisonMessage]] = field(default_factory=list)


def prepare_batch(events: Sequence[EventT[Any]], now: datetime) -> Batch:
    """Decode each event (the full validation: invalid ones become poison) and prepare it."""
    batch = Batch()
    for event in events:
        try:
            message = codec.decode(UniqueArticle, event.value)
        except PoisonMessage as exc:
            batch.poison.append((event, exc))
            continue
        try:
            prepared = prepare(message, now)
        except Exception as exc:
            # A valid message whose document cannot be built (a bug, or text
            # no encoder takes) would stop its partition for good: it is
            # dead-lettered with the error, to be replayed after a fix.
            log.exception("document not built", extra={"key": message.article.id})
            error = PoisonMessage("unindexable", f"{type(exc).__name__}: {exc}"[:2000])
            batch.poison.append((event, error))
            continue
        batch.articles.append((event, prepared))
    return batch


async def _index_batch(
    app: faust.App,
    indexer: BulkIndexer,
    deadletter: faust.TopicT,
    batch: Batch,
    settings: IndexerSettings,
    backoff: Callable[[], Backoff],
) -> None:
    """Index one batch: every event ends in Elasticsearch or, confirmed, in the dead letters."""
    emitter = Emitter(app, STAGE, deadletter)
    for event, exc in batch.poison:
        await emitter.dead_letter(event, exc)
    sizes = [len(event.value or b"") for event, _ in batch.articles]
    for chunk in split_by_size(batch.articles, sizes, settings.batch_bytes):
        items = [p for _, p in chunk]
        rejections = await _until_done(partial(indexer.index, items), backoff, len(items))
        for r in rejections:
            await emitter.dead_letter(chunk[r.position][0], PoisonMessage(r.reason, r.error))
    await emitter.confirm()
    log.debug(
        "indexed batch",
        extra={"count": len(batch.articles) + len(batch.poison), "dead": emitter.dead},
    )


def split_by_size(items: Sequence[Any], sizes: Sequence[int], limit: int) -> list[list[Any]]:
    """``items`` in order, cut into runs whose ``sizes`` add up to at most ``limit``.

    A single item larger than ``limit`` makes a run of its own.
    """
    runs: list[list[Any]] = []
    run: list[Any] = []
    total = 0
    for item, size in zip(items, sizes, strict=True):
        if run and total + size > limit:
            runs.append(run)
            run, total = [], 0
        run.append(item)
        total += size
    if run:
        runs.append(run)
    return runs


async def _until_done(
    call: Callable[[], Awaitable[T]], backoff: Callable[[], Backoff], count: int
) -> T:
    """``await call()``, repeated until it returns.

    Outages of Elasticsearch are waited out inside ``call``; what escapes is
    unexpected (a missing alias, a request Elasticsearch refuses as a whole,
    Kafka refusing a dead letter, a bug). Dropping the batch would lose it and
    crashing would not help, so it is logged and tried again; writes are
    idempotent, and the batch's offsets stay uncommitted meanwhile.
    """
    delays = backoff()
    while True:
        try:
            return await call()
        except Exception:
            delay = delays.next_delay()
            log.exception(
                "batch failed, trying it again",
                extra={"count": count, "retry_in_s": round(delay, 2)},
            )
            await asyncio.sleep(delay)


def _letter(event: EventT[Any]) -> Letter | None:
    message = event.message
    try:
        letter = codec.decode(DeadLetter, message.value)
    except PoisonMessage as exc:
        # Not dead-lettered again: that would feed the topic it came from.
        log.warning(
            "unreadable dead letter skipped",
            extra={"partition": message.partition, "offset": message.offset, "error": str(exc)},
        )
        return None
    return Letter(letter, message.topic, message.partition, message.offset)


async def _roll_over(
    es: AsyncElasticsearch, layout: Layout, write_alias: str, conditions: dict[str, Any]
) -> None:
    """Roll the write index over if a condition holds, unless ILM does that.

    A timer must not die: a failed check is logged and tried at the next tick.
    """
    try:
        current = await layout.current()
        if await managed_by_ilm(es, current.write):
            return
        new_index = await roll_over(es, write_alias, conditions)
    except Exception as exc:
        if transient_reason(exc) is None:
            log.exception("rollover check failed")
        else:
            log.warning("rollover check skipped: elasticsearch unavailable")
        return
    if new_index is not None:
        log.info("rolled over", extra={"index": new_index, "from": current.write})
        layout.invalidate()
