"""Wiring of the cleaner: news.raw → clean_message() in child processes → news.clean."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import faust
from faust.types import EventT, StreamT

from services.cleaner.extract import clean_message
from services.cleaner.pool import TimeboxedPool
from services.cleaner.settings import CleanerSettings
from shared import codec
from shared.exceptions import PoisonMessage
from shared.kafka import Emitter, batches, make_app, raw_topic
from shared.metrics import metrics_for
from shared.models import RawArticle

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
    # Pages cross to the extraction processes as the bytes Kafka gave and come
    # back as the bytes to produce: decoding and encoding happen there.
    pool: TimeboxedPool[bytes | None, tuple[str, bytes]] = TimeboxedPool(
        clean_message,
        settings.processes,
        settings.page_timeout_s,
        # Looked up per call: the worker attaches the stage's metrics after build().
        on_replace=lambda why: metrics_for(app).error(f"extraction-pool-{why}"),
        warm_up=codec.encode(_WARM_UP),
        nice=settings.extraction_nice,
    )

    @app.task  # type: ignore[untyped-decorator]  # Faust's decorators are untyped
    async def start_extraction() -> None:
        await pool.start()

    @app.agent(source)
    async def clean_pages(stream: StreamT[bytes]) -> None:
        async for events in batches(stream, settings.batch_size, settings.batch_within_s):
            emitter = Emitter(app, STAGE, deadletter)
            results = await pool.map([_value(event) for event in events])
            for event, result in zip(events, results, strict=True):
                if isinstance(result, tuple):
                    await emitter.send_bytes(sink, *result)
                elif isinstance(result, PoisonMessage):
                    await emitter.dead_letter(event, result)
                else:
                    failure = PoisonMessage("extract-failed", f"{type(result).__name__}: {result}")
                    await emitter.dead_letter(event, failure)
            await emitter.confirm()

    return app


def _value(event: EventT[Any]) -> bytes | None:
    value = event.value
    return value if isinstance(value, bytes) else None
