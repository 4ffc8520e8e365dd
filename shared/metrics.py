"""Prometheus metrics and health endpoints of a stage worker.

Each worker serves on one port (``NEWSFLOW_<STAGE>_METRICS_PORT``):

- ``/metrics``: the Prometheus text format;
- ``/healthz`` (liveness): 200 while the worker's event loop answers and its
  app has not crashed;
- ``/readyz`` (readiness): 200 once the worker has joined its consumer group
  and recovered its tables, 503 before that and while a rebalance is under way.

The generic counts come from :mod:`shared.kafka` (``batches()`` counts the
messages in and times each batch; ``Emitter`` counts the messages out and the
dead letters), so a stage's own code only adds what is special to it, through
:func:`metrics_for`.
"""

from __future__ import annotations

import errno
import logging
import socket
import time
import weakref
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import faust
from aiohttp import web
from faust.types import TP, AppT, EventT
from mode import Service
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = [
    "DEFAULT_PORTS",
    "HealthServer",
    "MetricsSettings",
    "StageMetrics",
    "attach",
    "bind_port",
    "input_partitions",
    "metrics_for",
]

log = logging.getLogger(__name__)

# One fixed port per stage, so a host with one worker of each stage has every
# endpoint where a scrape config expects it; a second worker of a stage on the
# same host falls back to a free port (see bind_port).
DEFAULT_PORTS = {"fetcher": 9411, "cleaner": 9412, "dedup": 9413, "indexer": 9414}

# Batch durations span a few milliseconds (dedup) to minutes (an indexer
# waiting out an Elasticsearch outage); the default buckets stop at 10 s.
_BATCH_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
_SIZE_BUCKETS = (1, 2, 5, 10, 25, 50, 100, 250, 500, 1000)


class MetricsSettings(BaseSettings):
    """Where a worker serves its metrics: ``NEWSFLOW_<STAGE>_METRICS_PORT`` / ``_HOST``."""

    model_config = SettingsConfigDict(frozen=True, extra="ignore")

    metrics_port: int | None = Field(
        default=None,
        ge=0,
        le=65535,
        description="the stage's DEFAULT_PORTS entry when unset; 0: any free port; "
        "a port in use: any free port, logged",
    )
    metrics_host: str = Field(default="0.0.0.0", description="address to listen on")

    @classmethod
    def for_stage(cls, stage: str) -> MetricsSettings:
        """The settings of ``stage``, from its own ``NEWSFLOW_<STAGE>_`` variables."""
        # pydantic-settings takes the prefix at construction; mypy sees only fields.
        return cls(_env_prefix=f"NEWSFLOW_{stage.upper()}_")  # type: ignore[call-arg]

    def port_for(self, stage: str) -> int:
        return self.metrics_port if self.metrics_port is not None else DEFAULT_PORTS.get(stage, 0)


class StageMetrics:
    """The metrics of one stage worker, in a registry of its own.

    Every series carries a ``stage`` label, so dashboards can sum over the
    workers of a stage whatever the scrape job is called.
    """

    def __init__(self, stage: str) -> None:
        self.stage = stage
        self.registry = CollectorRegistry()
        reg = self.registry
        self.messages_in = Counter(
            "newsflow_messages_in",
            "Messages taken from an input topic",
            ["stage", "topic"],
            registry=reg,
        )
        self.messages_out = Counter(
            "newsflow_messages_out",
            "Messages the broker acknowledged on an output topic",
            ["stage", "topic"],
            registry=reg,
        )
        self.batch_seconds = Histogram(
            "newsflow_batch_seconds",
            "Time to process one batch, output acknowledged",
            ["stage", "topic"],
            buckets=_BATCH_BUCKETS,
            registry=reg,
        )
        self.batch_messages = Histogram(
            "newsflow_batch_messages",
            "Messages per batch",
            ["stage", "topic"],
            buckets=_SIZE_BUCKETS,
            registry=reg,
        )
        self.errors = Counter(
            "newsflow_errors",
            "Failures that were retried or worked around, by kind",
            ["stage", "kind"],
            registry=reg,
        )
        self.dead_letters = Counter(
            "newsflow_dead_letters",
            "Messages sent to the dead-letter topic, by reason",
            ["stage", "reason"],
            registry=reg,
        )
        self.lag = Gauge(
            "newsflow_consumer_lag",
            "Messages of an assigned input partition not processed yet (end offset - next offset)",
            ["stage", "topic", "partition"],
            registry=reg,
        )
        self.ready = Gauge("newsflow_ready", "1 when the worker is ready", ["stage"], registry=reg)
        self.in_flight = Gauge(
            "newsflow_batches_in_flight",
            "Batches handed to the stage's code and not finished yet",
            ["stage"],
            registry=reg,
        )
        self._next_offset: dict[TP, int] = {}
        self._in_flight = 0
        self._unsettled: list[Sequence[EventT[Any]]] = []
        # Counts every sign that the worker gets on with its work (a batch
        # done, output acknowledged, a dead letter, an error handled, a
        # retry); shared.kafka.StallGuard restarts a worker that has work
        # and shows none for long.
        self.signs_of_life = 0
        # Input topics read in batches (shared.kafka.batches), whose every
        # message not acknowledged is in a batch being processed.
        self.batched: set[str] = set()

    def alive(self) -> None:
        """Note a sign of progress that no other count here records (e.g. a retry)."""
        self.signs_of_life += 1

    def received(self, events: Iterable[EventT[Any]]) -> None:
        """Count a batch's events and remember how far each partition got."""
        for event in events:
            msg = event.message
            self.messages_in.labels(self.stage, msg.topic).inc()
            self.batched.add(msg.topic)
            self._next_offset[msg.tp] = max(self._next_offset.get(msg.tp, 0), msg.offset + 1)

    def batch_started(self) -> None:
        self._in_flight += 1
        self.in_flight.labels(self.stage).set(self._in_flight)

    def batch_finished(self) -> None:
        self._in_flight -= 1
        self.in_flight.labels(self.stage).set(self._in_flight)

    def unsettled(self, events: Sequence[EventT[Any]]) -> None:
        """Count a batch its stage acknowledges itself as in flight until it has."""
        self._unsettled.append(events)

    def busy(self) -> bool:
        """Whether some batch is being processed right now."""
        self._unsettled = [b for b in self._unsettled if not all(e.message.acked for e in b)]
        return self._in_flight > 0 or bool(self._unsettled)

    def processed(self, topic: str, count: int, seconds: float) -> None:
        self.signs_of_life += 1
        self.batch_seconds.labels(self.stage, topic).observe(seconds)
        self.batch_messages.labels(self.stage, topic).observe(count)

    def sent(self, topic: str, count: int = 1) -> None:
        self.signs_of_life += 1
        self.messages_out.labels(self.stage, topic).inc(count)

    def dead_lettered(self, reason: str, count: int = 1) -> None:
        self.signs_of_life += 1
        self.dead_letters.labels(self.stage, reason).inc(count)

    def error(self, kind: str) -> None:
        self.signs_of_life += 1
        self.errors.labels(self.stage, kind).inc()

    def set_lag(self, highwaters: Mapping[TP, int | None], positions: Mapping[TP, int]) -> None:
        """Replace the lag series with those of the partitions assigned now."""
        self.lag.clear()
        for tp, end in highwaters.items():
            if end is None:
                continue  # nothing fetched from this partition yet
            # Processed offsets when known: the fetch position runs ahead of
            # processing by whatever the consumer has buffered.
            done = self._next_offset.get(tp, positions.get(tp))
            if done is None:
                continue
            self.lag.labels(self.stage, tp.topic, str(tp.partition)).set(max(end - done, 0))

    def has_processed(self, tp: TP) -> bool:
        return tp in self._next_offset

    def forget_unassigned(self, assigned: Iterable[TP]) -> None:
        """Drop positions of partitions this worker no longer holds."""
        keep = set(assigned)
        self._next_offset = {tp: o for tp, o in self._next_offset.items() if tp in keep}


_ATTACHED: weakref.WeakKeyDictionary[AppT, StageMetrics] = weakref.WeakKeyDictionary()


def attach(app: AppT, stage: str) -> StageMetrics:
    """Give ``app`` the metrics of ``stage`` (done once, at worker start)."""
    metrics = StageMetrics(stage)
    _ATTACHED[app] = metrics
    return metrics


def metrics_for(app: AppT) -> StageMetrics:
    """The metrics of ``app``; an app built outside a worker gets unnamed ones."""
    metrics = _ATTACHED.get(app)
    if metrics is None:
        metrics = attach(app, str(app.conf.id))
    return metrics


def input_partitions(app: faust.App) -> list[TP]:
    """The assigned partitions of the agents' input topics (not changelogs, not Faust's own)."""
    inputs = {
        name for agent in app.agents.values() for name in getattr(agent.channel, "topics", ())
    }
    return [tp for tp in app.consumer.assignment() if tp.topic in inputs]


def bind_port(host: str, port: int) -> socket.socket:
    """A listening socket on ``port``, or on a free port when ``port`` is taken.

    Several workers of one stage on one host all want the stage's port; the
    second must still start, so it takes what the kernel gives and says so.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE:
            sock.close()
            raise
        sock.bind((host, 0))
        log.warning(
            "metrics port in use, using a free one",
            extra={"wanted": port, "port": sock.getsockname()[1]},
        )
    sock.listen(64)
    sock.setblocking(False)
    return sock


class HealthServer(Service):
    """Serves /metrics, /healthz and /readyz for ``app`` on an already bound socket."""

    def __init__(self, app: faust.App, metrics: StageMetrics, sock: socket.socket) -> None:
        super().__init__()
        self._app = app
        self._metrics = metrics
        self._sock = sock
        self._runner: web.AppRunner | None = None
        self._recovered = False
        self._started_at = time.monotonic()
        # Sent once the group assigned partitions and tables are recovered;
        # mode's stubs accept no bound async method as a receiver.
        app.on_rebalance_complete.connect(self._on_rebalance_complete)  # type: ignore[arg-type]

    @property
    def port(self) -> int:
        return int(self._sock.getsockname()[1])

    async def _on_rebalance_complete(self, sender: Any, **kwargs: Any) -> None:
        self._recovered = True

    def is_ready(self) -> bool:
        """Joined the group, tables recovered, and no rebalance under way."""
        return self._recovered and not self._app.rebalancing and not self._app.crashed

    async def on_start(self) -> None:
        web_app = web.Application()
        web_app.router.add_get("/metrics", self._serve_metrics)
        web_app.router.add_get("/healthz", self._healthz)
        web_app.router.add_get("/readyz", self._readyz)
        self._runner = web.AppRunner(web_app, access_log=None)
        await self._runner.setup()
        await web.SockSite(self._runner, self._sock).start()
        log.info("serving metrics", extra={"port": self.port, "stage": self._metrics.stage})

    async def on_stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _healthz(self, request: web.Request) -> web.Response:
        if self._app.crashed:
            return web.json_response({"status": "crashed"}, status=500)
        return web.json_response(
            {"status": "ok", "uptime_s": round(time.monotonic() - self._started_at, 1)}
        )

    async def _readyz(self, request: web.Request) -> web.Response:
        ready = self.is_ready()
        body = {"ready": ready, "rebalancing": bool(self._app.rebalancing)}
        return web.json_response(body, status=200 if ready else 503)

    async def _serve_metrics(self, request: web.Request) -> web.Response:
        self._metrics.ready.labels(self._metrics.stage).set(1 if self.is_ready() else 0)
        await self._update_lag()
        return web.Response(
            body=generate_latest(self._metrics.registry),
            headers={"Content-Type": CONTENT_TYPE_LATEST},
        )

    async def _update_lag(self) -> None:
        """Lag of every assigned partition of an agent's input topic.

        Changelogs (state) and Faust's own coordination topic are left out.
        """
        consumer = self._app.consumer
        assigned = input_partitions(self._app)
        self._metrics.forget_unassigned(assigned)
        highwaters: dict[TP, int | None] = {}
        positions: dict[TP, int] = {}
        for tp in assigned:
            highwaters[tp] = consumer.highwater(tp)
            if not self._metrics.has_processed(tp):
                position = await consumer.position(tp)
                if position is not None:
                    positions[tp] = position
        self._metrics.set_lag(highwaters, positions)
