"""Wiring of the cleaner: news.raw → clean() in child processes → news.clean."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import faust
from faust.types import EventT, StreamT

from services.cleaner.extract import clean
from services.cleaner.pool import TimeboxedPool
from services.cleaner.settings import CleanerSettings
from shared import codec
from shared.exceptions import PoisonMessage
from shared.kafka import Emitter, batches, make_app, raw_topic
from shared.metrics import metrics_for
from shared.models import CleanArticle, RawArticle

STAGE = "cleaner"

log = logging.getLogger(__name__)

# A page the warm-up runs through each child so imports happen before the first
# real page's time cap starts counting.
_WARM_UP = RawArticle(
    id="warm-up",
    source_id="warm-up",
    source_kind="warm-up",
    url="http://warm.up/",
    final_url="http://warm.up/",
    fetched_at=datetime(2000, 1, 1, tzinfo=UTC),
    body="<html><head><title>warm up</title></head><body><p>warm up text</p></body></html>",
)


def build(settings: CleanerSettings) -> faust.App:
    """The cleaner's Faust app, with its one agent."""
    app = make_app(settings.app_id, settings.common)
    topics = settings.common.topics
    source = raw_topic(app, topics.raw)
    sink = raw_topic(app, topics.clean)
    deadletter = raw_topic(app, topics.deadletter)
    pool: TimeboxedPool[RawArticle, CleanArticle] = TimeboxedPool(
        clean,
        settings.processes,
        settings.page_timeout_s,
        # Looked up per call: the worker attaches the stage's metrics after build().
        on_replace=lambda why: metrics_for(app).error(f"extraction-pool-{why}"),
    )

    @app.task  # type: ignore[untyped-decorator]  # Faust's decorators are untyped
    async def warm_up() -> None:
        await pool.warm_up(_WARM_UP)

    @app.agent(source)
    async def clean_pages(stream: StreamT[bytes]) -> None:
        async for events in batches(stream, settings.batch_size, settings.batch_within_s):
            emitter = Emitter(app, STAGE, deadletter)
            decoded: list[tuple[EventT[Any], RawArticle]] = []
            for event in events:
                try:
                    decoded.append((event, codec.decode(RawArticle, event.value)))
                except PoisonMessage as exc:
                    await emitter.dead_letter(event, exc)
            results = await pool.map([raw for _, raw in decoded])
            for (event, _), result in zip(decoded, results, strict=True):
                if isinstance(result, CleanArticle):
                    await emitter.send(sink, result.id, result)
                elif isinstance(result, PoisonMessage):
                    await emitter.dead_letter(event, result)
                else:
                    failure = PoisonMessage("extract-failed", f"{type(result).__name__}: {result}")
                    await emitter.dead_letter(event, failure)
            await emitter.confirm()

    return app
