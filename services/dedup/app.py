"""Wiring of dedup: news.clean → fingerprint (N workers) → decide (one partition) → news.unique.

Fingerprinting is the costly part (tokenising, hashing, MinHash) and needs no
state, so it runs on every worker, spread by the partitions of news.clean.
The decision needs every earlier fingerprint, so all decisions are made on
the single partition of the internal ``<app_id>-decide`` topic, by whichever
worker owns it, against one table backed by its changelog. Two copies that
reach different workers at the same moment therefore still meet, and N
workers decide exactly as one would (the order is the decide partition's).
If the owner dies, another worker restores the table and carries on.

What one article costs is kept small: the article is validated once, on the
fingerprinting worker, and its bytes pass through to ``news.unique``
untouched (:mod:`services.dedup.work`); a decision writes two or three
changelog records, its buckets living in an index rebuilt from them after
every recovery (:mod:`services.dedup.state`).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import faust
import orjson
from faust.types import StreamT, TableT

from services.dedup.decide import DedupConfig, decide
from services.dedup.fingerprint import fingerprint
from services.dedup.settings import DedupSettings
from services.dedup.state import IndexedState
from services.dedup.work import decode_work, encode_work, unique_bytes
from shared import codec
from shared.exceptions import PoisonMessage
from shared.kafka import Emitter, as_current, batches, make_app, raw_topic
from shared.models import CleanArticle

STAGE = "dedup"

log = logging.getLogger(__name__)


def build(settings: DedupSettings) -> faust.App:
    """The dedup Faust app: a fingerprinting agent and a deciding agent."""
    app = make_app(settings.app_id, settings.common)
    topics = settings.common.topics
    config = DedupConfig(window_s=settings.window_days * 86400)
    source = raw_topic(app, topics.clean)
    # One partition: the whole decision state in one place (see module doc).
    to_decide = raw_topic(app, f"{settings.app_id}-decide", internal=True, partitions=1)
    sink = raw_topic(app, topics.unique)
    deadletter = raw_topic(app, topics.deadletter)
    table: TableT[str, Any] = app.Table("state", default=None, partitions=1)
    # Records in the table, buckets in memory (see services.dedup.state).
    state = IndexedState(table, config)
    decided = 0

    @table.on_recover
    async def _recovered() -> None:
        # The table was restored from its changelog (start, restart or
        # rebalance): the index is rebuilt from it before the next decision.
        state.stale = True

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
                await emitter.send_bytes(to_decide, article.id, work)
            await emitter.confirm()

    @app.agent(to_decide)
    async def decide_articles(stream: StreamT[bytes]) -> None:
        nonlocal decided
        async for events in batches(stream, settings.batch_size, settings.batch_within_s):
            if state.stale:
                state.rebuild()
            emitter = Emitter(app, STAGE, deadletter)
            for event in events:
                try:
                    work = decode_work(event.value)
                except PoisonMessage as exc:
                    await emitter.dead_letter(event, exc)
                    continue
                article = work.article
                outcome = decide(article, state, config, fp=work.fingerprint)
                with as_current(event):
                    state.apply(article.id, article.seen_s, outcome.updates)
                d = outcome.decision
                await emitter.send_bytes(sink, article.id, unique_bytes(d, work.article_bytes))
                decided += 1
                if decided % settings.sweep_every == 0:
                    with as_current(event):
                        removed = state.sweep(article.seen_at)
                    if removed:
                        log.info("expired dedup state", extra={"keys": removed})
            await emitter.confirm()

    return app
