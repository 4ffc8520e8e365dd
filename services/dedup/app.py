"""Wiring of dedup: news.clean → (by URL) → (by text) → news.unique.

State is partitioned by what is looked up, so any number of workers decide as
one would: the URL table lives on the partition of the article id (the key of
``news.clean``), the text table on the partition of the text hash (the key of
the internal ``<app_id>-by-text`` topic). Two copies of one text therefore meet
on one partition, whichever workers cleaned them.
"""

from __future__ import annotations

import logging
from typing import Any

import faust
from faust.types import StreamT, TableT

from services.dedup.exact import TextVerdict, UrlVerdict, text_key, text_verdict, url_verdict
from services.dedup.settings import DedupSettings
from shared import codec
from shared.exceptions import PoisonMessage
from shared.kafka import Emitter, as_current, batches, make_app, raw_topic
from shared.models import CleanArticle, UniqueArticle

STAGE = "dedup"

log = logging.getLogger(__name__)


def build(settings: DedupSettings) -> faust.App:
    """The dedup Faust app: two agents, two tables."""
    app = make_app(settings.app_id, settings.common)
    topics = settings.common.topics
    source = raw_topic(app, topics.clean)
    by_text = raw_topic(app, f"{settings.app_id}-by-text", internal=True)
    sink = raw_topic(app, topics.unique)
    deadletter = raw_topic(app, topics.deadletter)
    urls: TableT[str, Any] = app.Table("urls", default=None)
    texts: TableT[str, Any] = app.Table("texts", default=None)

    @app.agent(source)
    async def check_url(stream: StreamT[bytes]) -> None:
        async for events in batches(stream, settings.batch_size, settings.batch_within_s):
            emitter = Emitter(app, STAGE, deadletter)
            for event in events:
                try:
                    article = codec.decode(CleanArticle, event.value)
                except PoisonMessage as exc:
                    await emitter.dead_letter(event, exc)
                    continue
                verdict: UrlVerdict = url_verdict(article, urls.get(article.id))
                if verdict.state is not None:
                    with as_current(event):
                        urls[article.id] = verdict.state
                if verdict.check_text:
                    await emitter.send(by_text, text_key(article), article)
            await emitter.confirm()

    @app.agent(by_text)
    async def check_text(stream: StreamT[bytes]) -> None:
        async for events in batches(stream, settings.batch_size, settings.batch_within_s):
            emitter = Emitter(app, STAGE, deadletter)
            for event in events:
                try:
                    article = codec.decode(CleanArticle, event.value)
                except PoisonMessage as exc:
                    await emitter.dead_letter(event, exc)
                    continue
                key = event.key.decode() if isinstance(event.key, bytes) else str(event.key)
                verdict: TextVerdict = text_verdict(article, texts.get(key))
                with as_current(event):
                    texts[key] = verdict.state
                await emitter.send(sink, article.id, verdict.output)
            await emitter.confirm()

    return app


__all__ = ["UniqueArticle", "build"]
