"""The pipeline at a glance: each stage's workers, rate and lag, dead letters, the index.

Everything comes from Kafka and Elasticsearch themselves, so it works from any
machine that reaches them: workers are the members of each stage's consumer
group, lag is the end offsets of a stage's input topics minus its group's
committed offsets, rates are the growth of those committed offsets between
two snapshots.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Collection
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.coordinator.protocol import ConsumerProtocolMemberAssignment
from elasticsearch import ApiError, Elasticsearch, TransportError

from newsflow.topicread import partitions_in
from shared.settings import CommonSettings

__all__ = [
    "Drain",
    "DrainWatch",
    "IndexStatus",
    "Snapshot",
    "StageSpec",
    "StageStatus",
    "drained",
    "index_status",
    "kafka_status",
    "render",
    "snapshot",
    "stage_specs",
    "with_rates",
]


@dataclass(frozen=True)
class StageSpec:
    """A stage as Kafka sees it: its consumer group and the topics it reads.

    ``inputs[0]`` is the stage's pipeline input (its rate is the stage's
    rate); the others are the stage's internal topics, whose backlog is lag too.
    """

    name: str
    group: str
    inputs: tuple[str, ...]

    def with_internal(self, existing: Collection[str]) -> StageSpec:
        """This stage with its internal topics among ``existing`` added after its input.

        Internal topics are named ``<app id>-<name>`` (``shared.kafka.raw_topic``);
        table changelogs and Faust's own coordination topic are state, not input.
        """
        internal = sorted(
            t
            for t in existing
            if t.startswith(f"{self.group}-")
            and not t.endswith("-changelog")
            and "__assignor" not in t
        )
        return replace(self, inputs=(self.inputs[0], *internal))


# The pipeline input of each stage, in pipeline order.
_INPUTS = {"fetcher": "feeds", "cleaner": "raw", "dedup": "clean", "indexer": "unique"}


def stage_specs(common: CommonSettings, app_ids: dict[str, str]) -> list[StageSpec]:
    """The stages named in ``app_ids`` (stage → app id, i.e. group), in pipeline order."""
    return [
        StageSpec(name, app_ids[name], (getattr(common.topics, topic),))
        for name, topic in _INPUTS.items()
        if name in app_ids
    ]


@dataclass(frozen=True)
class Member:
    """One worker of a stage: a member of its consumer group."""

    client_id: str
    host: str
    partitions: int
    metrics_port: int | None


@dataclass(frozen=True)
class StageStatus:
    name: str
    group: str
    state: str
    members: list[Member]
    lag: int
    consumed: int  # committed offsets of the pipeline input, summed
    rate: float | None = None


@dataclass(frozen=True)
class IndexStatus:
    alias: str
    documents: int | None
    newest_title: str | None = None
    newest_indexed_at: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class Snapshot:
    at: float
    stages: list[StageStatus]
    dead_letters: int
    index: IndexStatus

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "at": datetime.fromtimestamp(self.at, UTC).isoformat()}


_METRICS_PORT = re.compile(r"-metrics(\d+)$")


def _member(raw: dict[str, Any], inputs: tuple[str, ...]) -> Member:
    assigned = 0
    if raw.get("member_assignment"):
        decoded = ConsumerProtocolMemberAssignment.decode(raw["member_assignment"])
        assigned = sum(len(parts) for topic, parts in decoded.assignment if topic in inputs)
    port = _METRICS_PORT.search(raw["client_id"])
    return Member(
        client_id=raw["client_id"],
        host=raw["client_host"].lstrip("/"),
        partitions=assigned,
        metrics_port=int(port.group(1)) if port else None,
    )


async def kafka_status(
    common: CommonSettings, specs: list[StageSpec]
) -> tuple[list[StageStatus], int]:
    """Each stage's members, lag and consumed count; and the number of dead letters."""
    admin = AIOKafkaAdminClient(bootstrap_servers=common.kafka_bootstrap)
    consumer = AIOKafkaConsumer(bootstrap_servers=common.kafka_bootstrap)
    await admin.start()
    await consumer.start()
    try:
        existing = set(await admin.list_topics())
        specs = [spec.with_internal(existing) for spec in specs]
        topics = {t for spec in specs for t in spec.inputs} | {common.topics.deadletter}
        tps = [TopicPartition(t, p) for t in sorted(topics) for p in await partitions_in(admin, t)]
        ends = await consumer.end_offsets(tps) if tps else {}
        starts = await consumer.beginning_offsets(tps) if tps else {}
        stages = [await _stage(admin, spec, ends) for spec in specs]
    finally:
        await consumer.stop()
        await admin.close()
    dead = sum(ends[tp] - starts[tp] for tp in ends if tp.topic == common.topics.deadletter)
    return stages, dead


async def _stage(
    admin: AIOKafkaAdminClient, spec: StageSpec, ends: dict[TopicPartition, int]
) -> StageStatus:
    described = (await admin.describe_consumer_groups([spec.group]))[0].to_object()["groups"][0]
    committed = await admin.list_consumer_group_offsets(spec.group)
    lag = 0
    consumed = 0
    for tp, end in ends.items():
        if tp.topic not in spec.inputs:
            continue
        meta = committed.get(tp)
        done = meta.offset if meta is not None and meta.offset >= 0 else 0
        lag += max(end - done, 0)
        if tp.topic == spec.inputs[0]:
            consumed += done
    members = [_member(m, spec.inputs) for m in described["members"]]
    return StageStatus(
        name=spec.name,
        group=spec.group,
        state=described["state"] or "Empty",
        members=sorted(members, key=lambda m: m.client_id),
        lag=lag,
        consumed=consumed,
    )


def index_status(es: Elasticsearch, alias: str) -> IndexStatus:
    """Documents behind ``alias`` and the most recently indexed one."""
    try:
        count = int(es.count(index=alias)["count"])
        hits = es.search(
            index=alias,
            size=1,
            sort=[{"indexed_at": "desc"}],
            source_includes=["title", "indexed_at"],
        )["hits"]["hits"]
    except (ApiError, TransportError) as exc:
        return IndexStatus(alias, None, error=str(exc)[:200])
    newest = hits[0]["_source"] if hits else {}
    return IndexStatus(alias, count, newest.get("title"), newest.get("indexed_at"))


def snapshot(common: CommonSettings, specs: list[StageSpec], es: Elasticsearch) -> Snapshot:
    """Everything ``newsflow status`` shows, as of now (rates not yet known)."""
    stages, dead = asyncio.run(kafka_status(common, specs))
    return Snapshot(time.time(), stages, dead, index_status(es, common.read_alias))


def with_rates(current: Snapshot, previous: Snapshot | None) -> Snapshot:
    """``current`` with each stage's rate: messages consumed per second since ``previous``."""
    if previous is None or current.at <= previous.at:
        return current
    before = {s.name: s.consumed for s in previous.stages}
    seconds = current.at - previous.at
    stages = [
        replace(s, rate=max(s.consumed - before[s.name], 0) / seconds) if s.name in before else s
        for s in current.stages
    ]
    return replace(current, stages=stages)


def render(snap: Snapshot) -> str:
    """The status screen as text."""
    when = datetime.fromtimestamp(snap.at, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    lines = [
        f"newsflow status  {when}",
        "",
        f"{'stage':8} {'workers':>7} {'state':12} {'rate/s':>8} {'lag':>8}"
        "  workers (partitions, metrics port)",
    ]
    for s in snap.stages:
        rate = "-" if s.rate is None else f"{s.rate:.1f}"
        who = ", ".join(
            f"{m.client_id.split('-metrics')[0]}@{m.host} ({m.partitions}p"
            + (f", :{m.metrics_port})" if m.metrics_port is not None else ")")
            for m in s.members
        )
        lines.append(
            f"{s.name:8} {len(s.members):>7} {s.state:12} {rate:>8} {s.lag:>8}  {who or '-'}"
        )
    lines += ["", f"dead letters: {snap.dead_letters}"]
    idx = snap.index
    if idx.error is not None:
        lines.append(f"index {idx.alias}: unavailable ({idx.error})")
    else:
        lines.append(f"index {idx.alias}: {idx.documents} documents")
        if idx.newest_title:
            lines.append(f"newest: {idx.newest_title!r} indexed {idx.newest_indexed_at}")
    return "\n".join(lines)


@dataclass(frozen=True)
class Drain:
    """Whether a chain of stages has processed everything that reached it."""

    drained: bool
    done: int  # first stage's input messages through every stage, estimated


async def drained(common: CommonSettings, specs: list[StageSpec]) -> Drain:
    """Whether every stage of ``specs`` (in pipeline order) has committed all its input.

    A stage's end offsets are read before its committed offsets, and the next
    stage's after that: a stage commits only what its output already holds,
    so one pass that finds no lag anywhere proves the chain is idle, with no
    message between two stages unseen.
    """
    async with DrainWatch(common, specs) as watch:
        return await watch.check()


class DrainWatch:
    """:func:`drained`, asked as often as needed over one admin client and one consumer.

    Opening the two clients costs about 130 ms of CPU; a loop that opened them
    for every look twice a second took a quarter of a core from the workers
    it was waiting for.
    """

    def __init__(self, common: CommonSettings, specs: list[StageSpec]) -> None:
        self._specs = specs
        self._admin = AIOKafkaAdminClient(bootstrap_servers=common.kafka_bootstrap)
        self._consumer = AIOKafkaConsumer(bootstrap_servers=common.kafka_bootstrap)

    async def __aenter__(self) -> DrainWatch:
        await self._admin.start()
        try:
            await self._consumer.start()
        except BaseException:
            await self._admin.close()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        try:
            await self._consumer.stop()
        finally:
            await self._admin.close()

    async def check(self) -> Drain:
        """:func:`drained`'s answer now."""
        admin, consumer = self._admin, self._consumer
        lags: list[int] = []
        first_committed = 0
        existing = set(await admin.list_topics())
        for spec in (s.with_internal(existing) for s in self._specs):
            for topic in spec.inputs:
                tps = [TopicPartition(topic, p) for p in await partitions_in(admin, topic)]
                ends = await consumer.end_offsets(tps) if tps else {}
                committed = await admin.list_consumer_group_offsets(spec.group)
                done = {tp: max(committed[tp].offset, 0) if tp in committed else 0 for tp in tps}
                lags.append(sum(max(ends[tp] - done[tp], 0) for tp in tps))
                if len(lags) == 1:
                    first_committed = sum(done.values())
        return Drain(not any(lags), max(first_committed - sum(lags[1:]), 0))
