"""Wiring of dedup: news.clean → fingerprint (N workers) → decide (one partition) → news.unique.

Fingerprinting is the costly part (tokenising, hashing, MinHash) and needs no
state, so it runs on every worker, spread by the partitions of news.clean.
The decision needs every earlier fingerprint, so all decisions are made on
the single partition of the internal ``<app_id>-decide`` topic, by whichever
worker owns it, against one table backed by its changelog. Two copies that
reach different workers at the same moment therefore still meet, and N
workers decide exactly as one would (the order is the decide partition's).
If the owner dies, another worker restores the table and carries on.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import faust
from faust.types import StreamT, TableT

from services.dedup.decide import (
    Article,
    DedupConfig,
    apply,
    decide,
    expired,
    fingerprint_from_record,
    fingerprint_record,
)
from services.dedup.fingerprint import fingerprint
from services.dedup.settings import DedupSettings
from shared import codec
from shared.exceptions import PoisonMessage
from shared.kafka import Emitter, as_current, batches, make_app, raw_topic
from shared.models import CleanArticle, Message, UniqueArticle

STAGE = "dedup"

log = logging.getLogger(__name__)


class DedupWork(Message):
    """An article with its fingerprint, on its way to the decision."""

    article: CleanArticle
    seen_at: datetime
    fingerprint: dict[str, Any]


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
    state: TableT[str, Any] = app.Table("state", default=None, partitions=1)
    decided = 0

    @app.agent(source)
    async def fingerprint_articles(stream: StreamT[bytes]) -> None:
        async for events in batches(stream, settings.batch_size, settings.batch_within_s):
            emitter = Emitter(app, STAGE, deadletter)
            for event in events:
                try:
                    article = codec.decode(CleanArticle, event.value)
                except PoisonMessage as exc:
                    await emitter.dead_letter(event, exc)
                    continue
                # The broker's timestamp of the article: replays see the same clock.
                seen_at = datetime.fromtimestamp(event.message.timestamp, UTC)
                fp = fingerprint(article.text, title=article.title)
                work = DedupWork(
                    article=article, seen_at=seen_at, fingerprint=fingerprint_record(fp)
                )
                await emitter.send(to_decide, article.id, work)
            await emitter.confirm()

    @app.agent(to_decide)
    async def decide_articles(stream: StreamT[bytes]) -> None:
        nonlocal decided
        async for events in batches(stream, settings.batch_size, settings.batch_within_s):
            emitter = Emitter(app, STAGE, deadletter)
            for event in events:
                try:
                    work = codec.decode(DedupWork, event.value)
                    fp = fingerprint_from_record(work.fingerprint)
                except (PoisonMessage, KeyError, ValueError, TypeError) as exc:
                    error = (
                        exc
                        if isinstance(exc, PoisonMessage)
                        else PoisonMessage("invalid-message", f"bad fingerprint: {exc!r}")
                    )
                    await emitter.dead_letter(event, error)
                    continue
                article = Article.from_clean(work.article, seen_at=work.seen_at)
                outcome = decide(article, state, config, fp=fp)
                with as_current(event):
                    apply(state, outcome.updates)
                d = outcome.decision
                await emitter.send(
                    sink,
                    work.article.id,
                    UniqueArticle(
                        kind=d.kind,
                        article=work.article,
                        story_id=d.story_id,
                        duplicate_of=d.duplicate_of,
                        similarity=d.similarity,
                    ),
                )
                decided += 1
                if decided % settings.sweep_every == 0:
                    with as_current(event):
                        _sweep(state, work.seen_at, config)
            await emitter.confirm()

    return app


def _sweep(state: TableT[str, Any], now: datetime, config: DedupConfig) -> None:
    """Delete what fell out of the window, so memory stays bounded by it."""
    stale = [key for key, value in list(state.items()) if expired(value, now, config)]
    for key in stale:
        del state[key]
    if stale:
        log.info("expired dedup state", extra={"keys": len(stale)})
