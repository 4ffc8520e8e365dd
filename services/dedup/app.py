"""Wiring of dedup: news.clean → fingerprint → order → shards → news.unique.

Fingerprinting is the costly part (tokenising, hashing, MinHash) and needs no
state, so it runs on every worker, spread by the partitions of news.clean.
The fingerprinted work goes to the one partition of ``<app_id>-order``, whose
offsets number the articles: the one order in which dedup decides. Its owner
only routes (:meth:`Shards.route`); the decision state is partitioned by key
over ``<app_id>-shards`` and the ``records`` table that shares its partitions,
and each worker decides the articles whose home partitions it owns
(:mod:`services.dedup.shards`). N workers decide exactly as one would; two
copies that reach different workers at the same moment still meet, at the
partitions of the keys they share.

What one article costs is kept small: it is validated once, on the
fingerprinting worker, and its bytes pass through to ``news.unique``
untouched (:mod:`services.dedup.work`).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import faust
import orjson
from faust.types import EventT, StreamT, TableT

from services.dedup.decide import DedupConfig
from services.dedup.fingerprint import fingerprint
from services.dedup.settings import DedupSettings
from services.dedup.shards import Shards, pack
from services.dedup.work import encode_work
from shared import codec
from shared.exceptions import PoisonMessage
from shared.kafka import Emitter, as_current, batches, make_app, raw_topic
from shared.models import CleanArticle

STAGE = "dedup"
# How often stalled decisions are looked for (see Shards.retry), and a
# rebuild made if a rebalance happened while no message came.
RETRY_EVERY_S = 5.0

log = logging.getLogger(__name__)


def build(settings: DedupSettings) -> faust.App:
    """The dedup Faust app: fingerprinting, routing and deciding agents."""
    app = make_app(settings.app_id, settings.common)
    topics = settings.common.topics
    config = DedupConfig(window_s=settings.window_days * 86400)
    partitions = settings.shard_partitions
    source = raw_topic(app, topics.clean)
    # One partition: its offsets are the order of the decisions (see module doc).
    order = raw_topic(app, f"{settings.app_id}-order", internal=True, partitions=1)
    shard_topic = raw_topic(app, f"{settings.app_id}-shards", internal=True, partitions=partitions)
    sink = raw_topic(app, topics.unique)
    deadletter = raw_topic(app, topics.deadletter)
    table: TableT[str, Any] = app.Table("records", default=None, partitions=partitions)
    shards = Shards(table, partitions, config)
    shard_name = shard_topic.get_topic_name()

    def active() -> set[int]:
        return {tp.partition for tp in app.assignor.assigned_actives() if tp.topic == shard_name}

    async def flush(box: _Box, emitter: Emitter) -> None:
        for partition, items in box.messages.items():
            for message in pack(items):
                await emitter.send_bytes(shard_topic, str(partition), message, partition=partition)
        for key, value in box.verdicts:
            await emitter.send_bytes(sink, key, value)
        await emitter.confirm()
        # The verdicts are on news.unique: their work may go.
        for event, key in box.finished:
            with as_current(event):
                if table.get(key) is not None:
                    del table[key]

    @table.on_recover
    async def _recovered() -> None:
        # The table was restored from its changelog (start, restart or
        # rebalance): the in-memory state is rebuilt before the next message.
        shards.stale = True

    @app.agent(source)
    async def fingerprint_articles(stream: StreamT[bytes]) -> None:
        async for events in batches(stream, settings.batch_size, settings.batch_within_s):
            emitter = Emitter(app, STAGE, deadletter)
            for event in events:
                raw = event.value
                try:
                    article = codec.decode(CleanArticle, raw)
                    # The broker's timestamp of the article: replays see the same clock.
                    seen_at = datetime.fromtimestamp(event.message.timestamp, UTC)
                    work = encode_work(
                        raw, article, seen_at, fingerprint(article.text, title=article.title)
                    )
                except PoisonMessage as exc:
                    await emitter.dead_letter(event, exc)
                    continue
                except orjson.JSONEncodeError as exc:
                    error = PoisonMessage("invalid-message", f"cannot encode: {exc!r}")
                    await emitter.dead_letter(event, error)
                    continue
                await emitter.send_bytes(order, article.id, work)
            await emitter.confirm()

    @app.agent(order)
    async def route_articles(stream: StreamT[bytes]) -> None:
        async for events in batches(stream, settings.batch_size, settings.batch_within_s):
            emitter = Emitter(app, STAGE, deadletter)
            box = _Box()
            for event in events:
                try:
                    shards.route(event.message.offset, event.value, box)
                except PoisonMessage as exc:
                    await emitter.dead_letter(event, exc)
            await flush(box, emitter)

    @app.agent(shard_topic)
    async def decide_articles(stream: StreamT[bytes]) -> None:
        async for events in batches(stream, settings.batch_size, settings.batch_within_s):
            emitter = Emitter(app, STAGE, deadletter)
            box = _Box()
            if shards.stale:
                shards.rebuild(active(), box)
            for event in events:
                box.event = event
                partition = event.message.partition
                with as_current(event):
                    try:
                        shards.handle(partition, event.value, box)
                    except PoisonMessage as exc:
                        await emitter.dead_letter(event, exc)
                        continue
                    if shards.decided >= settings.sweep_every:
                        shards.decided = 0
                        now = datetime.fromtimestamp(event.message.timestamp, UTC).timestamp()
                        removed = shards.sweep(partition, now)
                        if removed:
                            log.info("expired dedup state", extra={"keys": removed})
            await flush(box, emitter)

    @app.timer(interval=RETRY_EVERY_S)  # type: ignore[untyped-decorator]
    async def retry_stalled() -> None:
        # A rebalance with no message since still rebuilds; decisions stalled
        # far too long ask again (see Shards.retry).
        box = _Box()
        if shards.stale:
            shards.rebuild(active(), box)
        else:
            shards.retry(active(), box)
        if box.messages:
            await flush(box, Emitter(app, STAGE, deadletter))

    return app


class _Box:
    """What handling messages sends, kept until the batch is done (an Outbox)."""

    def __init__(self) -> None:
        self.messages: dict[int, list[tuple[dict[str, Any], bytes | None]]] = {}
        self.verdicts: list[tuple[str, bytes]] = []
        self.finished: list[tuple[EventT[Any], str]] = []
        self.event: EventT[Any] | None = None

    def send(self, partition: int, item: dict[str, Any], body: bytes | None = None) -> None:
        self.messages.setdefault(partition, []).append((item, body))

    def unique(self, key: str, value: bytes) -> None:
        self.verdicts.append((key, value))

    def done(self, key: str) -> None:
        assert self.event is not None, "a decision is made while handling a message"
        self.finished.append((self.event, key))
