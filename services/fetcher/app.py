"""Wiring of the fetcher: news.feeds → sources table → polls → news.raw.

Sources are spread over workers by the partitions of ``news.feeds``:
- ``register`` keeps the ``sources`` table (one entry per source id, on the
  partition of its key, with the time of its registration) in step with the
  compacted ``news.feeds`` topic;
- a timer asks for a poll of each due source of this worker's partitions by
  sending the source id to the internal ``<app_id>-polls`` topic, which is
  co-partitioned with ``news.feeds``. Each source is polled at its own phase
  of its interval (``services.fetcher.schedule``), so sources registered
  together are not polled in step;
- ``poll`` polls, emits the new articles, and only then records the source's
  new state (validators, next poll, health) in the ``state`` table and the
  keys of the items it has now seen in the ``seen`` table. A source is
  polled by one poll at a time: a second request for it (the scheduler asks
  again when a request waited long in a busy worker's queue) is dropped while
  the first runs, since both would emit the same new items.

The ``state`` table's changelog (``<app_id>-state-changelog``, compacted,
JSON values) doubles as the sources' health record: ``newsflow feeds list``
reads it.

A worker that dies mid-poll leaves its poll request unacknowledged; the
worker that takes the partition over polls again. Articles emitted twice that
way are recognised downstream by their id.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

import faust
from faust.types import StreamT, TableT

from services.fetcher.fetch import due_at, first_due_at, is_due, poll_source
from services.fetcher.health import Owned, SourceHealth, poll_outcome
from services.fetcher.polite import PoliteClient, Politeness
from services.fetcher.schedule import InFlight
from services.fetcher.settings import FetcherSettings
from shared import codec
from shared.exceptions import PoisonMessage
from shared.http import HttpClient
from shared.kafka import Emitter, make_app, raw_topic
from shared.metrics import metrics_for
from shared.models import FeedSource

STAGE = "fetcher"
# A timed poll request goes out this much after its source's due time, so a
# clock read a hair early on the other side cannot find the source not due.
_ON_TIME_S = 0.005

log = logging.getLogger(__name__)


def http_client(settings: FetcherSettings) -> PoliteClient:
    """The fetcher's HTTP client: guarded, bounded and polite, as the settings say."""
    return PoliteClient(
        Politeness(
            robots=settings.robots,
            agent=settings.robots_agent,
            robots_ttl_s=settings.robots_ttl_s,
            robots_error_ttl_s=settings.robots_error_ttl_s,
            host_concurrency=settings.host_concurrency,
            host_min_delay_s=settings.host_min_delay_s,
            max_crawl_delay_s=settings.max_crawl_delay_s,
            max_host_wait_s=settings.max_host_wait_s,
            max_penalty_s=settings.max_host_penalty_s,
        ),
        user_agent=settings.user_agent,
        connect_timeout_s=settings.connect_timeout_s,
        read_timeout_s=settings.read_timeout_s,
        total_timeout_s=settings.total_timeout_s,
        max_bytes=settings.max_bytes,
        max_redirects=settings.max_redirects,
        max_connections=settings.max_connections,
        policy=settings.address_policy,
        file_roots=settings.file_roots,
    )


def build(settings: FetcherSettings, http: HttpClient | None = None) -> faust.App:
    """The fetcher's Faust app; ``http`` defaults to :func:`http_client`."""
    common = settings.common
    app = make_app(
        settings.app_id,
        common,
        broker_session_timeout=settings.session_timeout_s,
        # Three heartbeats per session timeout, as Kafka advises.
        broker_heartbeat_interval=settings.session_timeout_s / 3,
    )
    topics = common.topics
    feeds = raw_topic(app, topics.feeds)
    polls = raw_topic(app, f"{settings.app_id}-polls", internal=True)
    sink = raw_topic(app, topics.raw)
    deadletter = raw_topic(app, topics.deadletter)
    sources: TableT[str, Any] = app.Table("sources", default=None)
    state: TableT[str, Any] = app.Table("state", default=None)
    seen: TableT[str, Any] = app.Table("seen", default=None)
    client = http or http_client(settings)
    flights = InFlight(settings.poll_request_timeout_s)

    def assigned() -> set[int]:
        """The partitions of news.feeds (and so of the polls topic) this worker holds."""
        return {tp.partition for tp in app.consumer.assignment() if tp.topic == topics.feeds}

    def owned() -> dict[str, Owned]:
        try:
            mine = assigned()
        except Exception:  # consumer not started yet, or stopping: nothing owned
            return {}
        return {
            source_id: Owned(str(entry["config"].get("kind", "")), state.get(source_id))
            for source_id, entry in list(sources.items())
            if entry is not None and entry["partition"] in mine
        }

    health = SourceHealth(STAGE, owned)

    def due_of(source_id: str, entry: dict[str, Any], current: dict[str, Any] | None) -> float:
        """When the source is due: as its state says, or its first poll's moment."""
        if current is not None:
            return due_at(current)
        # Entries registered before registrations were timed: due at once.
        registered_at = float(entry.get("registered_at", 0.0))
        interval_s = float(entry["config"]["interval_s"])
        return first_due_at(source_id, interval_s, registered_at, settings)

    @app.task  # type: ignore[untyped-decorator]
    async def serve_health() -> None:
        # At start, not at build: the worker gives the app its metrics only
        # after building it (shared.kafka.worker_main).
        metrics_for(app).registry.register(health)

    @app.agent(feeds)
    async def register(stream: StreamT[bytes]) -> None:
        async for event in stream.events():
            key = event.key.decode() if isinstance(event.key, bytes) else None
            if not key:
                continue
            if not event.value:  # a tombstone: the source was removed
                sources.pop(key, None)
                continue
            try:
                source = codec.decode(FeedSource, event.value)
            except PoisonMessage as exc:
                emitter = Emitter(app, STAGE, deadletter)
                await emitter.dead_letter(event, exc)
                await emitter.confirm()
                continue
            sources[key] = {
                "config": source.model_dump(mode="json"),
                "partition": event.message.partition,
                # The record's time, not this worker's clock: every worker
                # that owns the source later works out the same first poll.
                "registered_at": event.message.timestamp,
            }

    timed: set[asyncio.Task[None]] = set()  # requests waiting for their source's due time

    async def ask_at(source_id: str, at: float) -> None:
        await asyncio.sleep(max(at - time.time(), 0.0) + _ON_TIME_S)
        if app.should_stop:
            return  # the producer may be gone; the next owner asks for its polls
        try:
            await polls.send(key=source_id.encode(), value=b"{}")
        except Exception:  # a request not sent is asked for again after poll_request_timeout_s
            log.warning("poll request not sent", extra={"source_id": source_id}, exc_info=True)

    @app.timer(settings.tick_s)  # type: ignore[untyped-decorator]
    async def schedule() -> None:
        # Each tick also takes the sources that fall due before the next one,
        # and asks for their polls at that very moment: a due poll does not
        # wait up to a tick for the scan that notices it.
        now = time.time()
        horizon = now + settings.tick_s
        mine = assigned()
        for source_id, entry in list(sources.items()):
            if entry is None or entry["partition"] not in mine:
                continue
            if not entry["config"].get("enabled", True):
                continue
            due = due_of(source_id, entry, state.get(source_id))
            if due > horizon or not flights.should_ask(source_id, now):
                continue
            flights.asked(source_id, now)
            if due <= now:
                await polls.send(key=source_id.encode(), value=b"{}")
            else:
                task = asyncio.ensure_future(ask_at(source_id, due))
                timed.add(task)
                task.add_done_callback(timed.discard)

    @app.agent(polls, concurrency=settings.concurrent_polls)
    async def poll(stream: StreamT[bytes]) -> None:
        async for event in stream.events():
            source_id = event.key.decode() if isinstance(event.key, bytes) else ""
            entry = sources.get(source_id)
            current = state.get(source_id)
            if not flights.start(source_id):
                continue  # a second request for a source being polled: that poll answers it
            try:
                if entry is not None and is_due(current, time.time()):
                    source = FeedSource.model_validate(entry["config"])
                    # Time from the request's send to its pick-up here: the
                    # polls topic's round trip plus any queue for a poll slot.
                    queued_s = time.time() - event.message.timestamp
                    due = due_of(source_id, entry, current)
                    await poll_once(source_id, source, current, due, queued_s)
            finally:
                flights.done(source_id)

    async def poll_once(
        source_id: str,
        source: FeedSource,
        current: dict[str, Any] | None,
        due: float,
        queued_s: float,
    ) -> None:
        """Poll ``source``, emit what it found, then record its new state and seen items."""
        # How long the poll waited past its due time: the scheduler's and the
        # polls topic's share of every item's delay, or a queue of polls.
        late_s = time.time() - due
        outcome = await poll_source(source, current, client, settings, seen=seen.get(source_id))
        emitter = Emitter(app, STAGE, deadletter)
        for article in outcome.articles:
            await emitter.send(sink, article.id, article)
        for error in outcome.item_errors:
            item = json.dumps(
                {
                    "source_id": source_id,
                    "url": error.item.url,
                    "guid": error.item.guid,
                    "title": error.item.title,
                    "reason": error.reason,
                }
            )
            await emitter.dead_letter_bytes(
                PoisonMessage(error.reason, error.error), item.encode(), key=source_id.encode()
            )
        if outcome.source_error is not None and outcome.first_failure:
            # A source that starts failing is reported once per streak
            # (its health keeps the details); the original is its config,
            # so a replay onto news.feeds re-registers it after a fix.
            failure = outcome.source_error
            detail = failure.args[0] if failure.args else str(failure)
            await emitter.dead_letter_bytes(
                PoisonMessage(failure.reason, f"source {source_id}: {detail}"),
                source.model_dump_json().encode(),
                topic=topics.feeds,
                key=source_id.encode(),
            )
        await emitter.confirm()
        if outcome.seen is not None:
            seen[source_id] = outcome.seen
        state[source_id] = outcome.state
        source_error = outcome.source_error
        reason = source_error.reason if source_error is not None else None
        health.polled(source_id, poll_outcome(outcome.state, reason), len(outcome.articles))
        log.info(
            "polled",
            extra={
                "source_id": source_id,
                "new": len(outcome.articles),
                "errors": len(outcome.item_errors),
                "failures": outcome.state.get("failures", 0),
                "not_modified": outcome.state.get("not_modified", False),
                "next_in_s": round(outcome.state["next_poll_at"] - time.time(), 1),
                "late_s": round(late_s, 3),
                "queued_s": round(queued_s, 3),
            },
        )

    return app
