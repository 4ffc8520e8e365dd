"""Kafka plumbing every stage shares: the Faust app factory and the emitter.

A stage's agent decodes a batch, calls its pure function, hands the results to
an :class:`Emitter`, and awaits :meth:`Emitter.confirm` before the batch is
acknowledged. Faust commits an offset only once its event is acknowledged, so
nothing leaves the input topic's committed position before every message it
produced was accepted by the broker: at-least-once delivery.

Both also keep the stage's metrics (:mod:`shared.metrics`): :func:`batches`
counts the messages in and times each batch, the :class:`Emitter` counts what
the broker acknowledged and the dead letters; and while a batch is processed,
every log line carries its topic, partitions and offsets.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import time
import weakref
from collections import Counter, deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, cast

import faust
from faust.streams import _current_event
from faust.types import TP, EventT, StreamT
from mode import Service

from shared import codec
from shared.deadletter import dead_letter
from shared.exceptions import PoisonMessage
from shared.logs import bind_log_context, log_context, logging_config
from shared.metrics import (
    HealthServer,
    MetricsSettings,
    StageMetrics,
    attach,
    bind_port,
    input_partitions,
    metrics_for,
)
from shared.models import Message
from shared.offsets import BrokerCommits, Gap, InputOrder, OwnClient
from shared.settings import CommonSettings

__all__ = [
    "Emitter",
    "Pipeline",
    "StallGuard",
    "as_current",
    "make_app",
    "pipelined",
    "raw_topic",
    "stalled_since",
    "worker_main",
]

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
        # Gather a few milliseconds of messages per produce request: without
        # it every table write and output message is a request of its own,
        # and requests cost dedup a third of its CPU.
        "producer_linger": 0.005,
        # Commit soon after acks so a killed worker redoes little work.
        "broker_commit_interval": 1.0,
        # A worker that stops heartbeating (killed, or its host gone) loses its
        # partitions to the others after 10 s instead of Faust's 60; heartbeats
        # come from the consumer's own thread every 3 s, so a busy event loop
        # does not miss them.
        "broker_session_timeout": 10.0,
        "broker_heartbeat_interval": 3.0,
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


async def batches(
    stream: StreamT[Any], size: int, within_s: float, *, settle: bool = True
) -> AsyncIterator[Sequence[EventT[Any]]]:
    """The stream's events in batches of at most ``size``, waiting at most ``within_s``.

    With ``settle`` (the default) a batch is acknowledged only once the loop
    body finished it and asks for the next batch. Faust's ``take_events``
    would also acknowledge it when the stream closes mid-batch on shutdown,
    and the final commit would then cover messages never processed; so the
    batch is marked acknowledged on arrival without telling the consumer
    (Faust's own acknowledgement becomes a no-op) and acknowledged for real
    when done. A batch cut short keeps its offsets uncommitted and is read
    again by the partition's next owner. A stage that settles batches itself,
    finishing one while it handles the next (:class:`Pipeline`, through
    :func:`pipelined`: the indexer writes several at once), passes
    ``settle=False``.

    With ``settle`` the time from handing a batch out to the next request is
    its processing time in the metrics; :class:`Pipeline` records a batch's
    when it is done with it.

    Messages past a gap in a partition's offsets (messages the stream
    skipped, see :mod:`shared.offsets`) are not handed out: the consumer is
    moved back to read the missing ones again.
    """
    metrics = metrics_for(stream.app)
    order = InputOrder()
    app = cast(faust.App, stream.app)
    _ORDERS.setdefault(app, []).append(order)
    async for events in cast(faust.Stream[Any], stream).take_events(size, within_s):
        if settle:
            for event in events:
                event.message.acked = True
        committed = await _committed(app, order.starting(events))
        events, dropped, gaps = order.sort(events, committed)
        for event in dropped:
            # Never handed over nor acknowledged: read again after the move
            # back (marked so that Faust's own acknowledgement is a no-op).
            event.message.acked = True
        if gaps:
            await _read_again(app, order, gaps)
        if not events:
            continue
        metrics.received(events)
        topic = events[0].message.topic if events else ""
        outer = bind_log_context({"topic": topic, "offsets": offset_ranges(events)})
        started = time.perf_counter()
        metrics.batch_started()
        try:
            yield events
        finally:
            metrics.batch_finished()
            bind_log_context(outer)
        if settle:
            metrics.processed(topic, len(events), time.perf_counter() - started)
            for event in events:
                event.message.acked = False
                event.ack()
        else:
            metrics.unsettled(events)


# App → its group's committed offsets from the broker (set by worker_main).
_COMMITS: weakref.WeakKeyDictionary[faust.App, BrokerCommits] = weakref.WeakKeyDictionary()
# App → the input checks of its agents' batches (StallGuard moves back again
# to gaps left open).
_ORDERS: weakref.WeakKeyDictionary[faust.App, list[InputOrder]] = weakref.WeakKeyDictionary()
# A gap still open this long after a move back is moved back to again; after
# this many moves the worker restarts.
REFILL_AFTER_S = 5.0
REFILL_TRIES = 3


async def _committed(app: faust.App, tps: Sequence[TP]) -> dict[TP, int | None]:
    """Where ``tps``, just assigned, must start: the group's committed offsets."""
    commits = _COMMITS.get(app)
    if not tps or commits is None:
        return {}
    try:
        return await commits(tps)
    except Exception:  # the broker is away: the first messages go unchecked
        log.warning("committed offsets unknown", extra={"partitions": [str(tp) for tp in tps]})
        return {}


async def _read_again(app: faust.App, order: InputOrder, gaps: list[Gap]) -> None:
    """Move the consumer back to each gap's start (past what retention deleted)."""
    try:
        earliest = await app.consumer.earliest_offsets(*{gap.tp for gap in gaps})
    except Exception:  # the broker is away: read again from the gap itself
        earliest = {}
    for gap in gaps:
        start = max(gap.start, earliest.get(gap.tp, 0))
        if start > gap.start:
            order.jump(gap, start)
            log.warning(
                "input deleted by retention before it was read",
                extra={"gap": str(gap), "from": start},
            )
        else:
            log.warning("input messages were skipped: reading them again", extra={"gap": str(gap)})
            metrics_for(app).error("skipped-input")
        # In the consumer's own thread; sets its read offset too, so the
        # messages fetched again are not dropped as already read.
        await app.consumer.seek_wait({gap.tp: start})


def offset_ranges(events: Sequence[EventT[Any]]) -> dict[int, str]:
    """Partition → ``"first-last"`` offsets of a batch, for log lines."""
    ranges: dict[int, tuple[int, int]] = {}
    for event in events:
        msg = event.message
        low, high = ranges.get(msg.partition, (msg.offset, msg.offset))
        ranges[msg.partition] = (min(low, msg.offset), max(high, msg.offset))
    return {p: f"{low}-{high}" for p, (low, high) in sorted(ranges.items())}


class Pipeline:
    """Up to ``depth`` batches being finished at once, each acknowledged when done.

    An agent that reads its batches with ``batches(..., settle=False)`` hands
    each one here with what finishes it (writing it to Elasticsearch, waiting
    for the broker to acknowledge its output) and goes on to the next batch
    meanwhile: the time one batch waits on another service is spent on the next.

    Faust's ``take_events`` acknowledges a batch's events when the agent asks
    for the next batch, and also when the stream closes it on shutdown, while
    the agent may still be inside the batch (an indexer waits there for as
    long as Elasticsearch is down); the consumer's final commit would then
    cover events that never reached their destination. So a batch's messages are
    marked acknowledged on arrival, without telling the consumer, which makes
    Faust's own acknowledgement a no-op; once the batch is written they are
    acknowledged for real. A batch that never finishes keeps its offsets
    uncommitted, and the next owner of the partitions reads it again.

    With ``depth`` above 1, several batches are written at once and may
    finish out of order; each is acknowledged only once every batch before
    it was. Faust commits a partition's offsets up to its first
    unacknowledged one, but counts a single missing offset as none: a
    one-message batch still being written, with the batch after it
    acknowledged, would be committed over, and lost in a crash.
    """

    def __init__(self, depth: int, metrics: StageMetrics | None = None) -> None:
        self._slots = asyncio.Semaphore(depth)
        self._tasks: set[asyncio.Task[None]] = set()
        self._metrics = metrics
        self._failed: Exception | None = None
        # Batches in the order given, each with whether it is written.
        self._open: deque[list[Any]] = deque()

    async def submit(
        self, events: Sequence[EventT[Any]], write: Callable[[], Awaitable[None]]
    ) -> None:
        """Start ``write()`` for ``events`` as soon as fewer than ``depth`` batches are open.

        Raises what an earlier ``write()`` raised: the agent fails as it would
        have had it waited for that batch itself.
        """
        for event in events:
            event.message.acked = True
        await self._slots.acquire()
        if self._failed is not None:
            self._slots.release()
            raise self._failed
        entry = [events, False]
        self._open.append(entry)
        task = asyncio.create_task(self._run(entry, write))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, entry: list[Any], write: Callable[[], Awaitable[None]]) -> None:
        events: Sequence[EventT[Any]] = entry[0]
        started = time.perf_counter()
        try:
            await write()
        except Exception as exc:
            self._failed = exc  # raised to the agent at its next submit; events not acknowledged
            return
        finally:
            self._slots.release()
        if self._metrics is not None and events:
            topic = events[0].message.topic
            self._metrics.processed(topic, len(events), time.perf_counter() - started)
        entry[1] = True
        while self._open and self._open[0][1]:
            for event in self._open.popleft()[0]:
                event.message.acked = False
                event.ack()

    def cancel(self) -> None:
        """Abandon the open batches (on shutdown): their offsets stay uncommitted."""
        for task in self._tasks:
            task.cancel()


async def pipelined(
    stream: StreamT[Any], size: int, within_s: float, depth: int
) -> AsyncIterator[tuple[Sequence[EventT[Any]], Pipeline]]:
    """:func:`batches` for an agent that finishes each one through a
    :class:`Pipeline` of ``depth`` (given with every batch) while it goes on;
    batches still open when the stream ends are abandoned, their offsets
    uncommitted."""
    pipeline = Pipeline(depth, metrics_for(stream.app))
    try:
        async for events in batches(stream, size, within_s, settle=False):
            yield events, pipeline
    finally:
        pipeline.cancel()


@contextmanager
def as_current(event: EventT[Any]) -> Iterator[None]:
    """Make ``event`` the current one while handling it from a batch.

    Faust writes a table change to the changelog partition of the current
    event; ``take_events`` batches do not set one per event, so a stage that
    keeps a table sets it here (through Faust's own context variable). Log
    lines inside name the event's partition, offset and key (the article id).
    """
    msg = event.message
    token = _current_event.set(weakref.ref(event))
    try:
        with log_context(partition=msg.partition, offset=msg.offset, key=_text(msg.key)):
            yield
    finally:
        _current_event.reset(token)


def _text(key: Any) -> str | None:
    return key.decode("utf-8", "replace") if isinstance(key, bytes) else None


class Emitter:
    """Sends messages for one batch and confirms that the broker took them all.

    The stage's metrics count a message out, or a dead letter, once the
    broker acknowledged it.
    """

    def __init__(self, app: faust.App, stage: str, deadletter_topic: faust.TopicT) -> None:
        self._app = app
        self._stage = stage
        self._deadletter = deadletter_topic
        self._metrics = metrics_for(app)
        self._pending: list[Awaitable[Any]] = []
        self._queued: Counter[str] = Counter()
        self._reasons: Counter[str] = Counter()
        self.sent = 0
        self.dead = 0

    async def send(self, topic: faust.TopicT, key: str, message: Message) -> None:
        """Queue ``message`` on ``topic`` under ``key``."""
        await self.send_bytes(topic, key, codec.encode(message))

    async def send_bytes(
        self, topic: faust.TopicT, key: str, value: bytes, *, partition: int | None = None
    ) -> None:
        """Queue ``value``, a message already encoded, on ``topic`` under ``key``
        (on ``partition`` when given, else the one the key hashes to)."""
        fut = await topic.send(key=key.encode("utf-8"), value=value, partition=partition)
        self._pending.append(fut)
        self._queued[topic.get_topic_name()] += 1
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
                "key": _text(key),
            },
        )
        fut = await self._deadletter.send(key=key, value=codec.encode(letter))
        self._pending.append(fut)
        self._reasons[error.reason] += 1
        self.dead += 1

    async def confirm(self) -> None:
        """Wait until the broker acknowledged every message queued so far."""
        pending, self._pending = self._pending, []
        queued, self._queued = self._queued, Counter()
        reasons, self._reasons = self._reasons, Counter()
        if pending:
            try:
                await asyncio.gather(*pending)
            except Exception:
                self._metrics.error("produce")
                raise
        for name, count in queued.items():
            self._metrics.sent(name, count)
        for reason, count in reasons.items():
            self._metrics.dead_lettered(reason, count)


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


Positions = dict[TP, tuple[int, float]]


def stalled_since(
    previous: Positions, positions: dict[TP, int | None], ends: dict[TP, int], now: float
) -> Positions:
    """Each partition with messages past its fetch position: (position, unmoved since).

    A partition that caught up, or whose position moved, starts afresh.
    """
    behind: Positions = {}
    for tp, known in positions.items():
        end = ends.get(tp)
        # No position at all (a seek never done) counts as nothing read.
        position = -1 if known is None else known
        if end is None or end <= 0 or position >= end:
            continue
        before = previous.get(tp)
        behind[tp] = before if before is not None and before[0] == position else (position, now)
    return behind


class StallGuard(Service):
    """Rejoins the consumer group when fetching stopped although messages wait,
    and restarts the worker in place when it stopped making progress at all.

    After a broker outage Faust's consumer can stop fetching until the next
    rebalance (faust-streaming/faust#523): the worker looks healthy, its group
    is stable, and its lag grows. A partition counts as stalled when the
    stage's code waits for input (no batch in flight, no event of one
    unacknowledged), the broker holds
    messages past the consumer's fetch position, and that position has not
    moved for ``stall_s``; a rejoin (a rebalance) starts fetching again.
    A table recovery that stopped reading its changelogs is rejoined the
    same way (:meth:`_recovery_stalled`).

    The last resort is :meth:`_wedged`: a worker with work to do that has
    shown no sign of life for ``wedge_s`` while the broker answers is
    restarted in place (``restart``), which is as safe as a SIGKILL and a
    restart: nothing is committed before its output is acknowledged.
    """

    def __init__(
        self,
        app: faust.App,
        metrics: StageMetrics,
        stall_s: float = 20.0,
        clock: Callable[[], float] = time.monotonic,
        *,
        wedge_s: float = 120.0,
        broker: Callable[[Sequence[TP]], Awaitable[dict[TP, int]]] | None = None,
        restart: Callable[[], object] | None = None,
        lost_s: float = 60.0,
    ) -> None:
        super().__init__()
        self._app = app
        self._metrics = metrics
        self._stall_s = stall_s
        self._clock = clock
        self._behind: Positions = {}
        self._restoring: Positions = {}
        self._wedge_s = wedge_s
        self._broker = broker
        self._restart = restart or restart_in_place
        self._signs = metrics.signs_of_life
        self._quiet_since = clock()
        self._lost_s = lost_s
        self._uncommitted: Positions = {}

    @Service.timer(5.0)
    async def _check(self) -> None:
        try:
            await self._checks()
        except Exception:
            # A guard that crashes takes its worker down with it (seen in CI:
            # a broker restarting refused the guard's own client).
            log.warning("stall guard check failed; next in 5 s", exc_info=True)

    async def _checks(self) -> None:
        if await self._wedged():
            return
        if await self._recovery_stalled():
            return
        if not self._app.rebalancing and await self._refill():
            return
        if self._app.rebalancing or self._metrics.busy():
            self._behind, self._uncommitted = {}, {}
            return
        tps = input_partitions(self._app)
        if not tps:
            return
        if await self._lost_tail(tps):
            return
        try:
            self._behind, stuck = await self._unmoved(tps, self._behind)
        except Exception:  # the broker is away: nothing to judge a stall by
            return
        if stuck:
            self._behind = {}
            self._rejoin("consumer stalled, rejoining the group", "consumer-stalled", stuck)

    async def _refill(self) -> bool:
        """Move the consumer back again to input gaps still open (see
        :mod:`shared.offsets`); restart the worker when that did not fill
        one after ``REFILL_TRIES`` moves."""
        generation = self._app.consumer_generation_id
        assigned = set(self._app.consumer.assignment())
        for order in _ORDERS.get(self._app, ()):
            overdue = order.overdue(generation, assigned, REFILL_AFTER_S)
            if any(tries > REFILL_TRIES for _, tries in overdue):
                log.error(
                    "skipped input still not read again: restarting the worker",
                    extra={"gaps": [str(gap) for gap, _ in overdue]},
                )
                self._metrics.error("skipped-input")
                self._restart()
                return True
            if overdue:
                await _read_again(self._app, order, [gap for gap, _ in overdue])
        return False

    async def _lost_tail(self, tps: Sequence[TP]) -> bool:
        """Restart when read messages never reached the stage, with none after them.

        :func:`batches` catches messages the stream skipped (see
        :mod:`shared.offsets`) when the next one comes; when none comes, the
        sign is a partition whose committed offset stays below the consumer's
        position while the stage waits for input: read, never handed over,
        so never acknowledged. Left for ``lost_s`` (Faust commits every few
        seconds what was acknowledged), the worker restarts to read them again.
        Only partitions read through :func:`batches` count, where every
        message not acknowledged is in a batch being handled.
        """
        if self._app.rebalancing or self._metrics.busy():
            self._uncommitted = {}  # a batch is uncommitted for as long as it takes
            return False
        committed: Any = getattr(self._app.consumer, "_committed_offset", {})
        consumer = self._app.consumer
        behind: Positions = {}
        # Only input read in batches: a fetcher's poll holds its request for
        # as long as the poll takes, and others finish around it.
        for tp in [tp for tp in tps if tp.topic in self._metrics.batched]:
            mark, position = committed.get(tp), await _position(consumer, tp)
            if mark is None or position is None or mark >= position:
                continue
            before = self._uncommitted.get(tp)
            unchanged = before is not None and before[0] == mark
            behind[tp] = before if before is not None and unchanged else (mark, self._clock())
        self._uncommitted = behind
        lost = [tp for tp, (_, since) in behind.items() if self._clock() - since >= self._lost_s]
        if not lost:
            return False
        log.error(
            "read messages never reached the stage: restarting the worker to read them again",
            extra={"partitions": [f"{tp.topic}:{tp.partition}" for tp in lost]},
        )
        self._metrics.error("skipped-input")
        self._restart()
        return True

    async def _recovery_stalled(self) -> bool:
        """Rejoin when the tables' recovery stopped reading their changelogs.

        Faust's recovery can stop the same way after a rebalance: every
        changelog partition it restores from has records left and none is
        read ("No event received for active tp" in its log), so the worker
        never becomes ready. Seen in CI on the survivor of a killed fetcher,
        still recovering nothing 78 s later. Positions that keep moving are a
        recovery under way, however long it takes; only one that stopped for
        ``stall_s`` with records left rejoins.
        """
        recovery: Any = self._app.tables.recovery  # type: ignore[attr-defined]  # untyped in Faust
        tps = sorted(recovery.active_tps) if recovery.in_recovery else []
        if not tps:
            self._restoring = {}
            return False
        before = {tp: position for tp, (position, _) in self._restoring.items()}
        try:
            self._restoring, stuck = await self._unmoved(tps, self._restoring)
        except Exception:  # no position yet while the recovery seeks: look again later
            return False
        if any(before.get(tp) != position for tp, (position, _) in self._restoring.items()):
            self._metrics.alive()  # a long recovery that reads on is progress (see _wedged)
        if not stuck:
            return False
        self._restoring = {}
        self._rejoin("table recovery stalled, rejoining the group", "recovery-stalled", stuck)
        return True

    async def _unmoved(self, tps: Sequence[TP], previous: Positions) -> tuple[Positions, list[TP]]:
        """``tps`` behind their ends (:func:`stalled_since`); those unmoved for ``stall_s``."""
        consumer = self._app.consumer
        positions = {tp: await _position(consumer, tp) for tp in tps}
        ends = await self._ends(tps)
        now = self._clock()
        behind = stalled_since(previous, positions, ends, now)
        stuck = sorted(tp for tp, (_, since) in behind.items() if now - since >= self._stall_s)
        return behind, stuck

    def _rejoin(self, event: str, kind: str, stuck: list[TP]) -> None:
        log.warning(event, extra={"partitions": [f"{tp.topic}:{tp.partition}" for tp in stuck]})
        self._metrics.error(kind)
        _request_rejoin(self._app)

    async def _wedged(self) -> bool:
        """Restart the worker when it has work and showed no sign of life for ``wedge_s``.

        Signs of life are what :class:`~shared.metrics.StageMetrics` counts as
        progress: a batch done, output acknowledged, a dead letter, an error
        handled, a retry (an indexer waiting out Elasticsearch retries), a
        table recovery reading on (:meth:`_recovery_stalled`). Work
        is a batch in flight, a rebalance under way, or messages waiting on
        an assigned input partition. Found once in CI: a dedup worker
        restarted during a broker restart went quiet with thousands of
        articles waiting and none of the checks above fired. Whatever wedged
        it, a fresh process recovers; one waiting for a broker that does not
        answer is left alone, since a new one would wait the same.
        """
        now = self._clock()
        signs = self._metrics.signs_of_life
        if signs != self._signs:
            self._signs, self._quiet_since = signs, now
            return False
        if now - self._quiet_since < self._wedge_s:
            return False
        waiting = await self._work_waiting()
        if waiting is None:
            self._quiet_since = now  # nothing to do, or the broker is away
            return False
        log.error(
            "no progress with work waiting, restarting the worker in place",
            extra={
                "quiet_s": round(now - self._quiet_since),
                "waiting": waiting,
                "producer_buffer": _producer_buffer(self._app),
                "tasks": _task_stacks(),
            },
        )
        self._metrics.error("wedged")
        self._restart()
        return True

    async def _work_waiting(self) -> str | None:
        """What work waits (see :meth:`_wedged`); None when there is none, or
        when the broker does not answer."""
        tps = input_partitions(self._app)
        try:
            ends = await self._ends(tps)
        except Exception:  # the broker is away: waiting for it is not being wedged
            return None
        if self._metrics.busy():
            return "a batch in flight"
        if self._app.rebalancing:
            return "a rebalance"
        consumer = self._app.consumer
        behind = [tp for tp in tps if ends.get(tp, 0) > ((await _position(consumer, tp)) or 0)]
        if behind:
            return "input on " + ", ".join(f"{tp.topic}:{tp.partition}" for tp in behind)
        return None

    async def _ends(self, tps: Sequence[TP]) -> dict[TP, int]:
        """End offsets of ``tps`` from the broker; raises when it does not answer.

        Asked of the broker itself when the guard has a way to (``broker``):
        the consumer's own high-water marks come with fetched records, so a
        partition it never fetched from (the very stall watched for) has none.
        """
        if self._broker is not None:
            return await self._broker(tps)
        return dict(await self._app.consumer.highwaters(*tps))

    async def on_stop(self) -> None:
        close = getattr(self._broker, "close", None)
        if close is not None:
            await close()


class BrokerEnds(OwnClient):
    """End offsets asked of the broker over a client of the guard's own: a
    wedged worker's consumer may not answer, or answer from stale state."""

    async def __call__(self, tps: Sequence[TP]) -> dict[TP, int]:
        from aiokafka.structs import TopicPartition

        async def ends(consumer: Any) -> Any:
            return await consumer.end_offsets([TopicPartition(t, p) for t, p in tps])

        found = await self.ask(ends)
        return {TP(tp.topic, tp.partition): end for tp, end in found.items()}


async def _position(consumer: Any, tp: TP) -> int | None:
    """The consumer's fetch position of ``tp``; None while it has none.

    aiokafka's ``position()`` waits until there is one, for ever if the
    seek that sets it never completes: seen in CI as a table recovery that
    read nothing ("No event received ... since recovery start") and a stall
    guard that hung in this call instead of rejoining the group.
    """
    try:
        client = consumer._thread._ensure_consumer()
        state = client._subscription.subscription.assignment.state_value(tp)
        if state is not None and not state.has_valid_position:
            return None
    except Exception:  # not aiokafka's (a stand-in) or not assigned: ask as usual
        pass
    position: int | None = await consumer.position(tp)
    return position


def restart_in_place() -> None:
    """Replace this process with a fresh run of the same command (same pid,
    environment and output), as a supervisor's restart would."""
    logging.shutdown()
    os.execv(sys.executable, [sys.executable, *sys.orig_argv[1:]])


def _producer_buffer(app: faust.App) -> int | None:
    try:
        return int(app.producer.buffer.size)
    except Exception:  # diagnostics only
        return None


def _task_stacks(tasks: int = 60, frames: int = 6) -> list[str]:
    """Where each of the loop's tasks waits, innermost frames last, for a log line."""
    from mode.utils.tracebacks import format_task_stack

    stacks = []
    for task in list(asyncio.all_tasks())[:tasks]:
        lines = [line.strip() for line in format_task_stack(task).splitlines() if line.strip()]
        stacks.append(" | ".join(lines[-frames:]))
    return stacks


def _request_rejoin(app: faust.App) -> None:
    # Faust has no public way to rejoin; its aiokafka consumer lives on the
    # consumer thread's loop, so the request is handed to that loop.
    consumer: Any = app.consumer
    thread = consumer._thread
    coordinator = thread._ensure_consumer()._coordinator
    thread.thread_loop.call_soon_threadsafe(coordinator.request_rejoin)


def worker_main(app: faust.App, service: str, common: CommonSettings) -> None:
    """Run ``app`` as a worker until it is stopped (SIGTERM/SIGINT).

    The worker serves its metrics and health endpoints (where
    ``NEWSFLOW_<SERVICE>_METRICS_*`` says), watches its consumer for stalls,
    and names itself in its group as ``<service>-pid<pid>-metrics<port>``, so
    ``newsflow status`` shows where each member's metrics are.
    """
    app.conf.logging_config = logging_config(service, common.log_format, common.log_level)
    settings = MetricsSettings.for_stage(service)
    sock = bind_port(settings.metrics_host, settings.port_for(service))
    port = sock.getsockname()[1]
    app.conf.broker_client_id = f"{service}-pid{os.getpid()}-metrics{port}"
    stage_metrics = attach(app, service)
    health = HealthServer(app, stage_metrics, sock)
    guard = StallGuard(
        app,
        stage_metrics,
        wedge_s=common.wedge_restart_s,
        broker=BrokerEnds(common.kafka_bootstrap),
    )
    _COMMITS[app] = BrokerCommits(common.kafka_bootstrap, app.conf.id)
    asyncio.run(prepare_topics(app, common))
    worker = faust.Worker(
        app,
        health,
        guard,
        loglevel=common.log_level,
        redirect_stdouts=False,
        override_logging=True,
    )
    # Faust's terminal spinner, kept at levels WARNING and above, sets the
    # root logger to DEBUG to spin on every record: every debug call of
    # Faust and aiokafka (several per message produced) then built a record
    # for nothing. Logs go to a file or a collector, not a terminal.
    worker.spinner = None
    worker.execute_from_commandline()
