"""Reprocessing: clean, dedup and index the kept raw pages again into a new index.

``news.raw`` keeps a week of fetched pages, so a changed cleaner or dedup can
be run over them without fetching anything. The steps (``reprocess`` runs
them in order):

1. A new index ``<prefix>-articles-r<ts>-000001`` (so the article template and
   later rollovers apply to it) behind two aliases of its own.
2. A separate cleaner, dedup and indexer set with its own app ids, topic
   prefix ``reprocess-<ts>.`` and index prefix, writing to the new index.
3. The raw records since T are copied into ``reprocess-<ts>.news.raw``; the
   set processes them; what arrived meanwhile is copied too; wait until the
   set has drained.
4. Documents older than the oldest copied page (T, or the start of
   ``news.raw``'s retention) are carried over from the current index.
5. The read and write aliases move to the new index in one ``_aliases`` call:
   searches see the old index, then the new one, never neither.
6. The live indexer may go on writing to the old index until its cached view
   of the aliases expires (``NEWSFLOW_INDEXER_LAYOUT_TTL_S``); the raw records
   up to a moment after that are copied and processed too, so every article
   the live pipeline wrote to the old index is in the new one.
7. The set stops; its topics go (its dead-letter topic stays if not empty).

The old indices are left as they were, out of both aliases.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from elasticsearch import Elasticsearch
from elasticsearch.helpers import bulk, scan

from newsflow.infra import apply_topics
from newsflow.paths import RUN_DIR
from newsflow.procs import start, stop
from newsflow.status import DrainWatch, StageSpec, stage_specs
from newsflow.topicread import partitions_of
from shared.settings import CommonSettings

__all__ = ["Plan", "Progress", "make_plan", "reprocess"]

Offsets = dict[TopicPartition, int]

# The stages that run again; fetching is not repeated.
_STAGES = ("cleaner", "dedup", "indexer")


@dataclass(frozen=True)
class Plan:
    """One reprocessing run: the live settings, the set's settings, the new index."""

    live: CommonSettings
    work: CommonSettings
    stamp: int
    app_ids: dict[str, str]
    since: datetime | None
    workers: dict[str, int]

    @property
    def new_index(self) -> str:
        return f"{self.live.index_prefix}-articles-r{self.stamp}-000001"

    @property
    def specs(self) -> list[StageSpec]:
        """The set's stages, in pipeline order."""
        return stage_specs(self.work, self.app_ids)

    def env(self) -> dict[str, str]:
        """Environment of the set's workers."""
        env = {
            "NEWSFLOW_KAFKA_BOOTSTRAP": self.work.kafka_bootstrap,
            "NEWSFLOW_ES_URL": self.work.es_url,
            "NEWSFLOW_TOPIC_PREFIX": self.work.topic_prefix,
            "NEWSFLOW_INDEX_PREFIX": self.work.index_prefix,
            # Its own dead letters stay in its own topic, not in a second index.
            "NEWSFLOW_INDEXER_INDEX_DEADLETTERS": "false",
        }
        for stage in _STAGES:
            env[f"NEWSFLOW_{stage.upper()}_APP_ID"] = self.app_ids[stage]
            env[f"NEWSFLOW_{stage.upper()}_METRICS_PORT"] = "0"
        return env

    @property
    def process_prefix(self) -> str:
        return f"reprocess-{self.stamp}-"


def make_plan(
    live: CommonSettings,
    *,
    since: datetime | None = None,
    workers: dict[str, int] | None = None,
    stamp: int | None = None,
) -> Plan:
    """A plan to reprocess ``live``'s raw pages (those since ``since``, or all)."""
    stamp = stamp or int(time.time())
    work = live.model_copy(
        update={
            "topic_prefix": f"{live.topic_prefix}reprocess-{stamp}.",
            "index_prefix": f"{live.index_prefix}-r{stamp}",
        }
    )
    app_ids = {stage: f"{live.index_prefix}-reprocess-{stamp}-{stage}" for stage in _STAGES}
    counts = {stage: (workers or {}).get(stage, 1) for stage in _STAGES}
    return Plan(live, work, stamp, app_ids, since, counts)


@dataclass
class Progress:
    """What the caller shows: a phase, and pages done of pages copied so far."""

    phase: str
    done: int
    total: int


def reprocess(
    plan: Plan,
    es: Elasticsearch,
    *,
    layout_ttl_s: float,
    on_progress: Callable[[Progress], None] = lambda p: None,
    timeout_s: float = 6 * 3600,
    run_dir: Path = RUN_DIR,
) -> dict[str, Any]:
    """Run every step of the module docstring; returns a summary of what was done.

    The set's workers are started with pid files and logs in ``run_dir``, so
    ``newsflow down`` also stops a set whose reprocess command was killed.
    """
    deadline = time.monotonic() + timeout_s
    asyncio.run(apply_topics(plan.work))
    create_index(es, plan)
    names: list[str] = []
    try:
        names = _start_set(plan, run_dir)
        start_offsets, first_at = asyncio.run(raw_start(plan.live, plan.since))
        copied, ends = asyncio.run(copy_raw(plan, start_offsets))
        on_progress(Progress("processing", 0, copied))
        asyncio.run(_until_drained(plan, copied, "processing", on_progress, deadline))
        more, ends = asyncio.run(copy_raw(plan, ends))
        copied += more
        asyncio.run(_until_drained(plan, copied, "catching up", on_progress, deadline))
        carried = carry_over(es, plan, first_at)
        on_progress(Progress("swapping aliases", copied, copied))
        es.indices.refresh(index=plan.new_index)
        old = swap_aliases(es, plan)
        # The live indexer may write to the old index until its alias cache
        # expires; pages it wrote there are in news.raw before this moment.
        time.sleep(layout_ttl_s + 2.0)
        more, ends = asyncio.run(copy_raw(plan, ends))
        copied += more
        asyncio.run(_until_drained(plan, copied, "after the swap", on_progress, deadline))
        es.indices.refresh(index=plan.new_index)
    finally:
        stop(names, run_dir)
    dead = asyncio.run(cleanup(es, plan))
    return {
        "index": plan.new_index,
        "old_indices": old,
        "raw_pages": copied,
        "carried_over": carried,
        "documents": int(es.count(index=plan.live.read_alias)["count"]),
        "dead_letters": dead,
        "dead_letter_topic": plan.work.topics.deadletter if dead else None,
    }


def create_index(es: Elasticsearch, plan: Plan) -> None:
    """The new index behind the set's aliases only.

    Its name matches the article template, which brings the mappings and also
    the live read alias; that alias is taken off again while the index is
    still empty, so searches never see documents twice.
    """
    es.indices.create(
        index=plan.new_index,
        aliases={plan.work.write_alias: {"is_write_index": True}, plan.work.read_alias: {}},
    )
    if es.indices.exists_alias(name=plan.live.read_alias, index=plan.new_index):
        es.indices.delete_alias(index=plan.new_index, name=plan.live.read_alias)


def _start_set(plan: Plan, run_dir: Path) -> list[str]:
    names = []
    for stage in _STAGES:
        for n in range(1, plan.workers[stage] + 1):
            name = f"{plan.process_prefix}{stage}-{n}"
            argv = [sys.executable, "-m", f"services.{stage}"]
            start(name, argv, env=plan.env(), run_dir=run_dir)
            names.append(name)
    return names


async def raw_start(
    live: CommonSettings, since: datetime | None
) -> tuple[Offsets, datetime | None]:
    """Where copying starts in each partition of news.raw, and the oldest page's time."""
    topic = live.topics.raw
    tps = [TopicPartition(topic, p) for p in await partitions_of(live.kafka_bootstrap, topic)]
    consumer = AIOKafkaConsumer(bootstrap_servers=live.kafka_bootstrap)
    await consumer.start()
    try:
        begins = await consumer.beginning_offsets(tps)
        if since is None:
            return dict(begins), await _oldest(consumer, begins)
        found = await consumer.offsets_for_times(dict.fromkeys(tps, int(since.timestamp() * 1000)))
        ends = await consumer.end_offsets(tps)
        return {tp: found[tp].offset if found[tp] else ends[tp] for tp in tps}, since
    finally:
        await consumer.stop()


async def _oldest(consumer: AIOKafkaConsumer, begins: Offsets) -> datetime | None:
    """The timestamp of the oldest record still kept, over all partitions."""
    ends = await consumer.end_offsets(list(begins))
    stamps = []
    for tp, offset in begins.items():
        if offset >= ends[tp]:
            continue
        consumer.assign([tp])
        consumer.seek(tp, offset)
        record = await consumer.getone()
        stamps.append(record.timestamp)
    return datetime.fromtimestamp(min(stamps) / 1000, UTC) if stamps else None


async def copy_raw(plan: Plan, start_at: Offsets) -> tuple[int, Offsets]:
    """Copy news.raw from ``start_at`` to its end offsets now into the set's raw topic.

    Returns the number of records copied and the end offsets copied up to.
    """
    consumer = AIOKafkaConsumer(
        bootstrap_servers=plan.live.kafka_bootstrap,
        enable_auto_commit=False,
        max_partition_fetch_bytes=10_485_760,
        fetch_max_bytes=52_428_800,
    )
    producer = AIOKafkaProducer(
        bootstrap_servers=plan.live.kafka_bootstrap,
        acks="all",
        max_request_size=10_485_760,
        linger_ms=20,
    )
    await consumer.start()
    await producer.start()
    copied = 0
    try:
        tps = list(start_at)
        ends = await consumer.end_offsets(tps)
        todo = [tp for tp in tps if start_at[tp] < ends[tp]]
        consumer.assign(todo)
        for tp in todo:
            consumer.seek(tp, start_at[tp])
        while todo:
            batch = await consumer.getmany(*todo, timeout_ms=1000)
            for tp, records in batch.items():
                for record in records:
                    if record.offset >= ends[tp]:
                        break
                    await producer.send(plan.work.topics.raw, key=record.key, value=record.value)
                    copied += 1
            todo = [tp for tp in todo if await consumer.position(tp) < ends[tp]]
        await producer.flush()
    finally:
        await producer.stop()
        await consumer.stop()
    return copied, {tp: max(ends[tp], start_at[tp]) for tp in start_at}


async def _until_drained(
    plan: Plan,
    total: int,
    phase: str,
    on_progress: Callable[[Progress], None],
    deadline: float,
) -> None:
    async with DrainWatch(plan.work, plan.specs) as watch:
        while True:
            state = await watch.check()
            on_progress(Progress(phase, min(state.done, total), total))
            if state.drained:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"reprocessing did not finish ({phase}); see .run/logs/")
            await asyncio.sleep(1.0)


def carry_over(es: Elasticsearch, plan: Plan, before: datetime | None) -> int:
    """Copy the current documents fetched before ``before`` into the new index.

    Their raw pages are older than what was reprocessed (or gone with
    news.raw's retention). Documents the set already wrote win: creates only.
    """
    if before is None:
        query: dict[str, Any] = {"match_all": {}}
    else:
        query = {"range": {"fetched_at": {"lt": before.isoformat()}}}
    actions = (
        {
            "_op_type": "create",
            "_index": plan.work.write_alias,
            "_id": hit["_id"],
            "_source": hit["_source"],
        }
        for hit in scan(es, index=plan.live.read_alias, query={"query": query}, size=500)
    )
    created, errors = bulk(es, actions, raise_on_error=False, stats_only=False)
    failures = [
        e
        for e in (errors if isinstance(errors, list) else [])
        if e.get("create", {}).get("status") != 409
    ]
    if failures:
        raise RuntimeError(f"carrying documents over failed: {failures[:3]}")
    return int(created)


def swap_aliases(es: Elasticsearch, plan: Plan) -> list[str]:
    """Point the live read and write aliases at the new index, atomically.

    Returns the indices they pointed at before. Fails as a whole, changing
    nothing, if the live indexer rolled over in between (two write indices).
    """
    live = plan.live
    current = es.indices.get_alias(name=f"{live.read_alias},{live.write_alias}")
    actions: list[dict[str, Any]] = [
        {"remove": {"index": index, "alias": alias}}
        for index, entry in current.items()
        for alias in entry["aliases"]
        if alias in (live.read_alias, live.write_alias)
    ]
    actions += [
        {"add": {"index": plan.new_index, "alias": live.read_alias}},
        {"add": {"index": plan.new_index, "alias": live.write_alias, "is_write_index": True}},
    ]
    es.indices.update_aliases(actions=actions)
    return sorted(current)


async def cleanup(es: Elasticsearch, plan: Plan) -> int:
    """Drop the set's aliases and topics; keep its dead letters. Returns their count."""
    es.indices.delete_alias(
        index=plan.new_index, name=f"{plan.work.read_alias},{plan.work.write_alias}"
    )
    consumer = AIOKafkaConsumer(bootstrap_servers=plan.work.kafka_bootstrap)
    await consumer.start()
    try:
        topic = plan.work.topics.deadletter
        tps = [
            TopicPartition(topic, p) for p in await partitions_of(plan.work.kafka_bootstrap, topic)
        ]
        ends = await consumer.end_offsets(tps)
    finally:
        await consumer.stop()
    dead = int(sum(ends.values()))
    doomed = [t for t in plan.work.topics.all() if not (t == topic and dead)]
    admin = AIOKafkaAdminClient(bootstrap_servers=plan.work.kafka_bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        internal = [t for t in existing if any(t.startswith(a) for a in plan.app_ids.values())]
        await admin.delete_topics([t for t in doomed if t in existing] + internal)
    finally:
        await admin.close()
    return dead
