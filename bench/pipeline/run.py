"""The whole pipeline on a generated local site: throughput, delay, and the slowest stage.

Three measurements in one run, on one Kafka and one Elasticsearch
(``NEWSFLOW_KAFKA_BOOTSTRAP``, ``NEWSFLOW_ES_URL``), each stage one worker
process as ``newsflow up`` starts them:

1. Backlog: a site with ``--articles`` articles in ``--feeds`` feeds, all
   there from the start (so the first poll of each feed, every
   ``--backlog-poll-s``, lists them all). Articles/s from the first feed fetch to the moment
   the last article is searchable, and the delay of each article from its
   first appearance in a feed to the moment a search first finds it.
2. Live: a second site publishing ``--rate`` new items per second for
   ``--live-s`` seconds, feeds polled every ``--poll-s`` seconds; p50/p99/max
   of the same delay, and of the fetcher's share of it (from the first feed
   response that listed an item to its article's record on news.raw).
   Target: p99 < poll interval + 3 s.
3. Standalone: each stage alone (a fresh consumer group, or for the fetcher a
   fresh group and topic prefix) over the same articles; the slowest of them
   is what the pipeline is held against. Target: pipeline >= 0.8 x slowest.

    .venv/bin/python -m bench.pipeline.run [--articles 20000] [--feeds 200]
    .venv/bin/python -m bench.pipeline.run --phases live    # the live phase alone
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError
from elasticsearch import Elasticsearch

from bench.pipeline.measure import CpuMeter, pid_listening_on, ready
from bench.pipeline.site import GeneratedSite, expected_id, sources
from newsflow.feeds import put_sources
from newsflow.infra import apply_index, apply_topics
from newsflow.status import DrainWatch, StageSpec, kafka_status, stage_specs
from newsflow.topicread import partitions_of, read_topic
from shared.elastic import sync_client
from shared.settings import CommonSettings

REPO = Path(__file__).resolve().parents[2]
STAGES = ("fetcher", "cleaner", "dedup", "indexer")
PHASES = ("backlog", "standalone", "live")


def fetcher_env(poll_s: float) -> dict[str, str]:
    """A fetcher that may hammer one local host: per-host limits lifted, polls on time."""
    return {
        "NEWSFLOW_FETCHER_ALLOW_HOSTS": "127.0.0.1",
        "NEWSFLOW_FETCHER_ROBOTS": "false",
        "NEWSFLOW_FETCHER_HOST_MIN_DELAY_S": "0",
        "NEWSFLOW_FETCHER_HOST_CONCURRENCY": "32",
        "NEWSFLOW_FETCHER_CONCURRENT_POLLS": "32",
        "NEWSFLOW_FETCHER_ITEM_CONCURRENCY": "16",
        "NEWSFLOW_FETCHER_MAX_ITEMS_PER_POLL": "1000",
        "NEWSFLOW_FETCHER_MIN_INTERVAL_S": str(min(poll_s, 1.0)),
        "NEWSFLOW_FETCHER_ADAPTIVE": "false",
        "NEWSFLOW_FETCHER_JITTER": "0",
        "NEWSFLOW_FETCHER_TICK_S": "0.2",
    }


@dataclass
class Workers:
    """Stage worker processes of one measurement, logs in ``logs``."""

    common: CommonSettings
    logs: Path
    extra: dict[str, str] = field(default_factory=dict)
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    stages: list[str] = field(default_factory=list)

    def app_id(self, stage: str) -> str:
        return f"{self.common.index_prefix}-{stage}"

    def start(self, stage: str) -> None:
        env = {
            **os.environ,
            **self.extra,
            "NEWSFLOW_KAFKA_BOOTSTRAP": self.common.kafka_bootstrap,
            "NEWSFLOW_ES_URL": self.common.es_url,
            "NEWSFLOW_TOPIC_PREFIX": self.common.topic_prefix,
            "NEWSFLOW_INDEX_PREFIX": self.common.index_prefix,
            "NEWSFLOW_LOG_LEVEL": "WARNING",
            f"NEWSFLOW_{stage.upper()}_APP_ID": self.app_id(stage),
            f"NEWSFLOW_{stage.upper()}_METRICS_PORT": "0",
        }
        log = open(self.logs / f"{self.app_id(stage)}.log", "ab")  # noqa: SIM115 (child owns it)
        self.stages.append(stage)
        self.procs.append(
            subprocess.Popen(
                [sys.executable, "-m", f"services.{stage}"],
                env=env,
                cwd=REPO,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )

    def wait_ready(self, stages: tuple[str, ...]) -> None:
        """Until every stage's group has a member and each member answers /readyz."""
        apps = {stage: self.app_id(stage) for stage in stages}
        while True:
            try:
                found, _ = asyncio.run(kafka_status(self.common, stage_specs(self.common, apps)))
            except KafkaError:  # e.g. no group coordinator yet on a fresh broker
                found = []
            members = [s.members for s in found]
            if found and all(ms and all(ready(m.metrics_port) for m in ms) for ms in members):
                return
            if any(p.poll() is not None for p in self.procs):
                raise RuntimeError(f"a worker exited; see {self.logs}")
            time.sleep(0.3)

    def stop(self) -> None:
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            proc.wait(30)

    def pids(self) -> dict[str, list[int]]:
        """Worker pids by stage."""
        by_stage: dict[str, list[int]] = {}
        for stage, proc in zip(self.stages, self.procs, strict=True):
            by_stage.setdefault(stage, []).append(proc.pid)
        return by_stage


class Searchable(threading.Thread):
    """Notes when each document first shows up in a search (every ``every_s``)."""

    def __init__(
        self, common: CommonSettings, every_s: float = 0.25, lookback_s: float = 5.0
    ) -> None:
        super().__init__(daemon=True)
        self.common = common
        self.every_s = every_s
        self.lookback_s = lookback_s
        self.seen: dict[str, float] = {}
        self.done = threading.Event()

    def run(self) -> None:
        watermark = "1970-01-01T00:00:00+00:00"
        with sync_client(self.common, request_timeout=30) as es:
            while not self.done.is_set():
                now = time.time()
                newest = self._sweep(es, watermark, now)
                if newest:
                    # Documents written a little before the newest one may
                    # become visible only at the next refresh: look back.
                    watermark = _minus(newest, self.lookback_s)
                time.sleep(self.every_s)

    def _sweep(self, es: Elasticsearch, since: str, now: float) -> str | None:
        newest = None
        after: list[Any] | None = None
        while True:
            body: dict[str, Any] = {
                "query": {"range": {"indexed_at": {"gte": since}}},
                "sort": [{"indexed_at": "asc"}, {"id": "asc"}],
                "size": 5000,
                "_source": False,
                "fields": ["indexed_at"],
            }
            if after is not None:
                body["search_after"] = after
            hits = es.search(index=self.common.read_alias, **body)["hits"]["hits"]
            for hit in hits:
                self.seen.setdefault(hit["_id"], now)
                newest = hit["fields"]["indexed_at"][0]
            if len(hits) < 5000:
                return newest
            after = hits[-1]["sort"]


def _minus(iso: str, seconds: float) -> str:
    from datetime import datetime, timedelta

    return (
        datetime.fromisoformat(iso.replace("Z", "+00:00")) - timedelta(seconds=seconds)
    ).isoformat()


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


def delays(site: GeneratedSite, seen: dict[str, float]) -> list[float]:
    """Seconds from each article's first appearance in a feed to its first search hit."""
    out = []
    for n in site.numbers():
        found = seen.get(expected_id(n, site.base_url))
        appeared = site.appeared.get(n)
        if found is not None and appeared is not None:
            out.append(max(found - appeared, 0.0))
    return out


def fetcher_shares(site: GeneratedSite, common: CommonSettings) -> list[float]:
    """Seconds from the first feed response listing each article to its record on news.raw.

    The record's timestamp is the fetcher's send time (the producer sets it).
    """
    numbers = {expected_id(n, site.base_url): n for n in site.numbers()}
    on_raw: dict[int, float] = {}
    for record in asyncio.run(read_topic(common.kafka_bootstrap, common.topics.raw)):
        n = numbers.get(record.key.decode()) if record.key else None
        if n is not None:
            on_raw[n] = min(on_raw.get(n, float("inf")), record.timestamp / 1000)
    return [on_raw[n] - site.served[n] for n in on_raw if n in site.served]


def _spread(values: list[float]) -> dict[str, float]:
    return {
        "p50_s": round(_percentile(values, 0.5), 2),
        "p99_s": round(_percentile(values, 0.99), 2),
        "max_s": round(max(values, default=float("nan")), 2),
    }


def count(es: Elasticsearch, alias: str) -> int:
    """Documents searchable now. No forced refresh: searchable means after the
    index's own refresh, and a refresh forced twice a second made tiny segments
    for Elasticsearch to merge while the pipeline was being measured."""
    return int(es.count(index=alias)["count"])


def backlog(args: argparse.Namespace, common: CommonSettings, logs: Path) -> dict[str, Any]:
    """Phase 1: the whole pipeline over a site whose articles are all there at once."""
    site = GeneratedSite(args.feeds, args.articles // args.feeds)
    site.prerender()
    site.start_in_thread()
    # Every 0.25 s with 5 s of look-back (as in the live phase) the watcher
    # read back twenty documents for each one indexed, and its searches cost
    # Elasticsearch several times the indexing itself. Delays here are a
    # minute long: a second's precision is enough. The index has one shard,
    # so a refresh shows every document written before it at once; 3 s of
    # look-back covers a bulk request still under way at the newest one.
    watcher = Searchable(common, every_s=1.0, lookback_s=3.0)
    workers = Workers(common, logs, fetcher_env(args.backlog_poll_s))
    meter = _meter(common, workers)
    try:
        for stage in STAGES:
            workers.start(stage)
        workers.wait_ready(STAGES)
        watcher.start()
        meter.start()
        srcs = sources(site.base_url, args.feeds, interval_s=args.backlog_poll_s)
        asyncio.run(put_sources(common, srcs))
        with sync_client(common) as es:
            while count(es, common.read_alias) < site.total:
                time.sleep(0.5)
        last = time.time()
        cpu = meter.stop()
        batches = batch_sizes(common, workers)
    finally:
        watcher.done.set()
        workers.stop()
        site.shutdown()
    first = min(site.appeared.values())
    waits = delays(site, watcher.seen)
    return {
        "articles": site.total,
        "seconds": round(last - first, 1),
        "rate": round(site.total / (last - first), 1),
        "delay_found": len(waits),
        "delay_p50_s": round(_percentile(waits, 0.5), 1),
        "delay_p99_s": round(_percentile(waits, 0.99), 1),
        "cpu_s": cpu,
        "batches": batches,
    }


def batch_sizes(common: CommonSettings, workers: Workers) -> dict[str, dict[str, float]]:
    """Per stage, from the workers' own metrics: batches, mean size, mean seconds."""
    apps = {stage: workers.app_id(stage) for stage in STAGES}
    found, _ = asyncio.run(kafka_status(common, stage_specs(common, apps)))
    out: dict[str, dict[str, float]] = {}
    for stage in found:
        sums = {"newsflow_batch_messages_sum": 0.0, "newsflow_batch_messages_count": 0.0}
        sums["newsflow_batch_seconds_sum"] = 0.0
        for member in stage.members:
            url = f"http://127.0.0.1:{member.metrics_port}/metrics"
            with urllib.request.urlopen(url, timeout=5) as response:
                for line in response.read().decode().splitlines():
                    name = line.split("{", 1)[0]
                    if name in sums:
                        sums[name] += float(line.rsplit(" ", 1)[1])
        count = sums["newsflow_batch_messages_count"] or 1.0
        out[stage.name] = {
            "batches": sums["newsflow_batch_messages_count"],
            "mean_size": round(sums["newsflow_batch_messages_sum"] / count, 1),
            "mean_s": round(sums["newsflow_batch_seconds_sum"] / count, 3),
        }
    return out


def live(args: argparse.Namespace, common: CommonSettings, logs: Path) -> dict[str, Any]:
    """Phase 2: items appearing at ``--rate`` per second; their delay to searchable."""
    feeds = 50
    per_feed = int(args.rate * args.live_s) // feeds
    site = GeneratedSite(feeds, per_feed, offset=10_000_000, rate=args.rate)
    site.prerender()
    workers = Workers(common, logs, fetcher_env(args.poll_s))
    watcher = Searchable(common)
    meter = _meter(common, workers)
    try:
        for stage in STAGES:
            workers.start(stage)
        workers.wait_ready(STAGES)
        watcher.start()
        meter.start()
        site.start_in_thread()
        live_sources = sources(site.base_url, feeds, interval_s=args.poll_s, prefix="live")
        asyncio.run(put_sources(common, live_sources))
        site.start_publishing()
        deadline = time.time() + args.live_s + 120
        while time.time() < deadline:
            waits = delays(site, watcher.seen)
            if len(waits) >= site.total:
                break
            time.sleep(1.0)
        cpu = meter.stop()
    finally:
        watcher.done.set()
        workers.stop()
        site.shutdown()
    waits = delays(site, watcher.seen)
    spread = _spread(waits)
    return {
        "rate": args.rate,
        "poll_s": args.poll_s,
        "articles": site.total,
        "found": len(waits),
        "delay_p50_s": spread["p50_s"],
        "delay_p99_s": spread["p99_s"],
        "delay_max_s": spread["max_s"],
        "target_p99_s": args.poll_s + 3,
        "fetcher_share": _spread(fetcher_shares(site, common)),
        "cpu_s": cpu,
    }


def standalone(
    stage: str, args: argparse.Namespace, base: CommonSettings, logs: Path, total: int
) -> dict[str, Any]:
    """One stage alone over the phase 1 articles; its steady rate."""
    tag = f"{base.index_prefix}s{stage[0]}"
    # Topics of its own: the stage reads exactly what its input held after
    # phase 1 (copied), and the earlier standalone stages' output does not
    # land there (the cleaner's alone had once doubled dedup's input).
    common = base.model_copy(update={"index_prefix": tag, "topic_prefix": f"{tag}."})
    asyncio.run(apply_topics(common))
    if stage != "fetcher":
        copied = asyncio.run(copy_input(base, common, _INPUT[stage]))
        if copied != total:
            print(f"warning: {stage}'s input held {copied} messages, not {total}", flush=True)
    if stage == "indexer":
        with sync_client(common) as es:
            apply_index(es, common)
    workers = Workers(common, logs, fetcher_env(args.backlog_poll_s))
    meter = _meter(common, workers)
    site = GeneratedSite(args.feeds, args.articles // args.feeds) if stage == "fetcher" else None
    if site is not None:
        site.prerender()
    try:
        workers.start(stage)
        workers.wait_ready((stage,))
        started = time.monotonic()
        meter.start()
        if site is not None:
            site.start_in_thread()
            srcs = sources(site.base_url, args.feeds, interval_s=args.backlog_poll_s)
            asyncio.run(put_sources(common, srcs))
            asyncio.run(_until_fetched(common, total))
            done = total
        else:
            specs = stage_specs(common, {stage: workers.app_id(stage)})
            done = asyncio.run(_until_drained(common, specs))
        seconds = time.monotonic() - started
        cpu = meter.stop()
    finally:
        workers.stop()
        if site is not None:
            site.shutdown()
    # The rate is in articles, as the pipeline's is: the time this stage took
    # over the whole backlog of the same ``total`` articles. ``messages`` are
    # those the stage committed on its input, ``total`` unless some were
    # read twice.
    return {
        "stage": stage,
        "articles": total,
        "messages": done,
        "seconds": round(seconds, 1),
        "rate": round(total / seconds, 1),
        "cpu_s": cpu,
    }


# The attribute of ``CommonSettings.topics`` each stage reads.
_INPUT = {"cleaner": "raw", "dedup": "clean", "indexer": "unique"}


async def copy_input(source: CommonSettings, target: CommonSettings, name: str) -> int:
    """Copy topic ``name`` of ``source``'s prefix to ``target``'s, partition by partition,
    keys and timestamps kept; how many messages."""
    src, dst = getattr(source.topics, name), getattr(target.topics, name)
    consumer = AIOKafkaConsumer(bootstrap_servers=source.kafka_bootstrap, enable_auto_commit=False)
    producer = AIOKafkaProducer(
        bootstrap_servers=target.kafka_bootstrap,
        acks="all",
        linger_ms=20,
        max_batch_size=1 << 20,
        max_request_size=10_485_760,
    )
    await consumer.start()
    await producer.start()
    copied = 0
    try:
        tps = [TopicPartition(src, p) for p in await partitions_of(source.kafka_bootstrap, src)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        todo = {tp for tp in tps if ends[tp] > 0}
        while todo:
            fetched = await consumer.getmany(*todo, timeout_ms=1000)
            for tp, records in fetched.items():
                for r in records:
                    await producer.send(
                        dst, r.value, key=r.key, partition=tp.partition, timestamp_ms=r.timestamp
                    )
                copied += len(records)
                if records and records[-1].offset + 1 >= ends[tp]:
                    todo.discard(tp)
        await producer.flush()
    finally:
        await producer.stop()
        await consumer.stop()
    return copied


async def _until_fetched(common: CommonSettings, total: int) -> None:
    """Wait until the raw topic holds ``total`` records, asking over one consumer.

    Clients opened for every look (130 ms of CPU each, twice a second) would
    take a quarter of a core from the stage being measured.
    """
    topic = common.topics.raw
    consumer = AIOKafkaConsumer(bootstrap_servers=common.kafka_bootstrap)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in await partitions_of(common.kafka_bootstrap, topic)]
        while sum((await consumer.end_offsets(tps)).values()) < total:
            await asyncio.sleep(0.5)
    finally:
        await consumer.stop()


async def _until_drained(common: CommonSettings, specs: list[StageSpec]) -> int:
    """Wait until the stage has committed all its input; the messages it did meanwhile."""
    async with DrainWatch(common, specs) as watch:
        first = (await watch.check()).done
        while not (state := await watch.check()).drained:
            await asyncio.sleep(0.5)
    return state.done - first


def _meter(common: CommonSettings, workers: Workers) -> CpuMeter:
    """CPU of each stage's workers (looked up at start), Kafka and ES."""
    kafka = pid_listening_on(int(common.kafka_bootstrap.rsplit(":", 1)[1]))
    es = pid_listening_on(int(common.es_url.rstrip("/").rsplit(":", 1)[1]))

    class _Lazy(CpuMeter):
        def start(self) -> None:
            self.roots.update(workers.pids())
            super().start()

    return _Lazy({"kafka": [kafka] if kafka else [], "es": [es] if es else []})


async def _drop_topics(common: CommonSettings, tags: list[str]) -> None:
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=common.kafka_bootstrap)
    await admin.start()
    try:
        names = [t for t in await admin.list_topics() if any(t.startswith(g) for g in tags)]
        if names:
            await admin.delete_topics(names)
    finally:
        await admin.close()


def cleanup(common: CommonSettings, stamp: int) -> None:
    """Drop the run's topics, consumer-group topics and indices."""
    tags = [f"benchpipe{stamp}", f"benchlive{stamp}"]
    asyncio.run(_drop_topics(common, tags))
    with sync_client(common) as es:
        for tag in tags:
            es.indices.delete(index=f"{tag}*", ignore_unavailable=True, allow_no_indices=True)


def _run(
    args: argparse.Namespace, common: CommonSettings, stamp: int, results: dict[str, Any]
) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-pipeline-") as tmp:
        logs = Path(tmp)
        if "backlog" in args.phases:
            results["pipeline"] = backlog(args, common, logs)
            print("pipeline:", json.dumps(results["pipeline"]), flush=True)
        if "standalone" in args.phases:
            total = args.feeds * (args.articles // args.feeds)
            results["standalone"] = [
                standalone(stage, args, common, logs, total) for stage in STAGES
            ]
            for entry in results["standalone"]:
                print("standalone:", json.dumps(entry), flush=True)
        if "live" not in args.phases:
            return
        live_common = common.model_copy(
            update={"topic_prefix": f"benchlive{stamp}.", "index_prefix": f"benchlive{stamp}"}
        )
        asyncio.run(apply_topics(live_common))
        with sync_client(live_common) as es:
            apply_index(es, live_common)
        results["live"] = live(args, live_common, logs)
        print("live:", json.dumps(results["live"]), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--articles", type=int, default=20_000)
    parser.add_argument("--feeds", type=int, default=200)
    parser.add_argument("--poll-s", type=float, default=5.0, help="feed polling, live phase")
    parser.add_argument(
        "--backlog-poll-s",
        type=float,
        default=60.0,
        help="feed polling, backlog phases: the first poll lists every article already",
    )
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--live-s", type=float, default=30.0)
    parser.add_argument(
        "--phases",
        type=lambda value: [p for p in value.split(",") if p],
        default=list(PHASES),
        help=f"comma-separated, of {','.join(PHASES)} (default: all)",
    )
    args = parser.parse_args()
    if unknown := set(args.phases) - set(PHASES):
        parser.error(f"unknown phases: {', '.join(sorted(unknown))}")
    stamp = int(time.time())
    common = CommonSettings().model_copy(
        update={"topic_prefix": f"benchpipe{stamp}.", "index_prefix": f"benchpipe{stamp}"}
    )
    asyncio.run(apply_topics(common))
    with sync_client(common) as es:
        apply_index(es, common)
    results: dict[str, Any] = {}
    try:
        _run(args, common, stamp, results)
    finally:
        cleanup(common, stamp)
    if "live" in results:
        live_result = results["live"]
        print(
            f"live p50 {live_result['delay_p50_s']} s, p99 {live_result['delay_p99_s']} s, "
            f"max {live_result['delay_max_s']} s (target p99 < {live_result['target_p99_s']} s); "
            f"fetcher's share {json.dumps(live_result['fetcher_share'])}"
        )
    if "pipeline" not in results or "standalone" not in results:
        print(json.dumps(results))
        return
    slowest = min(results["standalone"], key=lambda e: e["rate"])
    ratio = results["pipeline"]["rate"] / slowest["rate"]
    print(
        f"pipeline {results['pipeline']['rate']}/s vs slowest stage alone "
        f"({slowest['stage']}) {slowest['rate']}/s: {ratio:.2f} (target >= 0.8)"
    )
    total = results["pipeline"]["articles"]
    per_article = {
        name: round(1000 * seconds / total, 2)
        for name, seconds in results["pipeline"]["cpu_s"].items()
    }
    # On a machine with few cores the stages share them: the pipeline can go
    # no faster than (cores / CPU per article), whatever the slowest stage does.
    print(
        f"pipeline CPU ms per article: {json.dumps(per_article)} on {os.cpu_count()} cores; "
        f"{slowest['stage']} alone: {1000 * slowest['cpu_s'].get(slowest['stage'], 0) / total:.2f}"
    )
    print(json.dumps(results))


if __name__ == "__main__":
    main()
