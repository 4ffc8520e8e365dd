"""Kafka plumbing every stage shares: the Faust app factory and the emitter.

A stage's agent decodes a batch, calls its pure function, hands the results to
an :class:`Emitter`, and awaits :meth:`Emitter.confirm` before the batch is
acknowledged. Faust commits an offset only once its event is acknowledged, so
nothing leaves the input topic's committed position before every message it
produced was accepted by the broker: at-least-once delivery.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import AsyncIterator, Awaitable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, cast

import faust
from faust.streams import _current_event
from faust.types import EventT, StreamT

from shared import codec
from shared.deadletter import dead_letter
from shared.exceptions import PoisonMessage
from shared.logs import logging_config
from shared.models import Message
from shared.settings import CommonSettings

__all__ = ["Emitter", "as_current", "make_app", "raw_topic", "worker_main"]

log = logging.getLogger(__name__)

# Partitions of every topic Faust declares itself (table changelogs, internal
# topics); the same count as infra/kafka/topics.yaml so tables co-partition
# with the topics that feed them.
DEFAULT_PARTITIONS = 8


def make_app(app_id: str, common: CommonSettings, **conf: Any) -> faust.App:
    """A Faust app for one stage, configured for at-least-once processing.

    ``app_id`` is also the consumer group: every worker of a stage uses the
    same one, so Kafka spreads the stage's partitions over them.
    """
    defaults: dict[str, Any] = {
        "broker": common.kafka_url,
        "store": "memory://",
        "topic_partitions": DEFAULT_PARTITIONS,
        "topic_replication_factor": 1,
        "topic_allow_declare": True,
        "consumer_auto_offset_reset": "earliest",
        # Several workers of a stage may share one host: no fixed web port.
        "web_enabled": False,
        "producer_acks": -1,
        # Commit soon after acks so a killed worker redoes little work.
        "broker_commit_interval": 1.0,
        "broker_commit_every": 500,
        "stream_wait_empty": False,
        "table_standby_replicas": 0,
        # Pages may be a few MB; the topics allow 10 MB (infra/kafka/topics.yaml).
        "producer_max_request_size": 10_485_760,
    }
    defaults.update(conf)
    return faust.App(app_id, **defaults)


# Internal topics each app declared through raw_topic(), for prepare_topics().
# Name → partition count.
_INTERNAL: weakref.WeakKeyDictionary[faust.App, dict[str, int]] = weakref.WeakKeyDictionary()


def raw_topic(app: faust.App, name: str, **kwargs: Any) -> faust.TopicT:
    """A topic of undecoded bytes: decoding is ours, so failures can be dead-lettered."""
    if kwargs.get("internal"):
        partitions = kwargs.get("partitions") or app.conf.topic_partitions
        _INTERNAL.setdefault(app, {})[name] = partitions
    return app.topic(
        name,
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
        **kwargs,
    )


def batches(
    stream: StreamT[Any], size: int, within_s: float
) -> AsyncIterator[Sequence[EventT[Any]]]:
    """The stream's events in batches of at most ``size``, waiting at most ``within_s``.

    Faust acknowledges a batch's events when the loop asks for the next batch,
    i.e. after the loop body processed (and confirmed) the whole batch.
    """
    return cast(faust.Stream[Any], stream).take_events(size, within_s)


@contextmanager
def as_current(event: EventT[Any]) -> Iterator[None]:
    """Make ``event`` the current one while handling it from a batch.

    Faust writes a table change to the changelog partition of the current
    event; ``take_events`` batches do not set one per event, so a stage that
    keeps a table sets it here (through Faust's own context variable).
    """
    token = _current_event.set(weakref.ref(event))
    try:
        yield
    finally:
        _current_event.reset(token)


class Emitter:
    """Sends messages for one batch and confirms that the broker took them all."""

    def __init__(self, app: faust.App, stage: str, deadletter_topic: faust.TopicT) -> None:
        self._app = app
        self._stage = stage
        self._deadletter = deadletter_topic
        self._pending: list[Awaitable[Any]] = []
        self.sent = 0
        self.dead = 0

    async def send(self, topic: faust.TopicT, key: str, message: Message) -> None:
        """Queue ``message`` on ``topic`` under ``key``."""
        fut = await topic.send(key=key.encode("utf-8"), value=codec.encode(message))
        self._pending.append(fut)
        self.sent += 1

    async def dead_letter(self, event: EventT[Any], error: PoisonMessage) -> None:
        """Queue a dead letter for ``event``, with where it came from."""
        msg = event.message
        await self.dead_letter_bytes(
            error,
            msg.value if isinstance(msg.value, bytes) else None,
            topic=msg.topic,
            partition=msg.partition,
            offset=msg.offset,
            key=msg.key if isinstance(msg.key, bytes) else None,
        )

    async def dead_letter_bytes(
        self,
        error: PoisonMessage,
        original: bytes | None,
        *,
        topic: str | None = None,
        partition: int | None = None,
        offset: int | None = None,
        key: bytes | None = None,
    ) -> None:
        """Queue a dead letter for ``original``, which did not come from a Kafka event."""
        letter = dead_letter(
            self._stage, error, original, topic=topic, partition=partition, offset=offset, key=key
        )
        log.warning(
            "dead-lettered",
            extra={
                "stage": self._stage,
                "reason": error.reason,
                "error": str(error)[:500],
                "topic": topic,
                "partition": partition,
                "offset": offset,
            },
        )
        fut = await self._deadletter.send(key=key, value=codec.encode(letter))
        self._pending.append(fut)
        self.dead += 1

    async def confirm(self) -> None:
        """Wait until the broker acknowledged every message queued so far."""
        pending, self._pending = self._pending, []
        if pending:
            await asyncio.gather(*pending)


async def prepare_topics(app: faust.App, common: CommonSettings) -> None:
    """Create the app's own topics (table changelogs, internal topics) before it starts.

    Faust creates them itself at start-up, but a consumer that subscribes a
    moment after the creation may see them missing and start with a partial
    assignment that it keeps; creating them first, and waiting until the
    broker lists them, makes the first start as reliable as every later one.
    """
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    wanted = {
        table.changelog_topic.get_topic_name(): table.partitions or app.conf.topic_partitions
        for table in app.tables.values()
    }
    wanted.update(_INTERNAL.get(app, {}))
    names = list(wanted)
    admin = AIOKafkaAdminClient(bootstrap_servers=common.kafka_bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [n for n in names if n not in existing]
        if missing:
            await admin.create_topics([NewTopic(n, wanted[n], 1) for n in missing])
        for _ in range(100):
            described = await admin.describe_topics(names)
            if all(len(t.get("partitions", [])) == wanted[t["topic"]] for t in described):
                return
            await asyncio.sleep(0.1)
        raise RuntimeError(f"topics {names} did not appear on the broker")
    finally:
        await admin.close()


def worker_main(app: faust.App, service: str, common: CommonSettings) -> None:
    """Run ``app`` as a worker until it is stopped (SIGTERM/SIGINT)."""
    app.conf.logging_config = logging_config(service, common.log_format, common.log_level)
    asyncio.run(prepare_topics(app, common))
    worker = faust.Worker(
        app, loglevel=common.log_level, redirect_stdouts=False, override_logging=True
    )
    worker.execute_from_commandline()
