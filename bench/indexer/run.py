"""Measure the indexer against Elasticsearch's own bulk helper, in one run.

``python -m bench.indexer.run [--articles 50000] [--rounds 2] [--rate 200] [--seconds 30]
[--kafka 127.0.0.1:19092] [--es http://127.0.0.1:19200]``

Needs a running Kafka and Elasticsearch (default: the test run's, started by
``NEWSFLOW_KEEP_TEST_INFRA=1 .venv/bin/pytest tests/integration`` or
``infra/local/newsflow-local up`` with the test ports). Prints:

1. **Throughput.** After a warm-up of the server (a raw run of a fifth of
   the articles, not counted), ``--rounds`` pairs of these two, in
   alternating order, with each pair's ratio and the median of the ratios:

   - *raw*: ``elasticsearch.helpers.async_bulk`` creates the same documents
     (``services.indexer.document.document`` of the same messages, built
     before the clock starts) from memory into a fresh index of the same
     template, 500 per request, through a client built as the indexer builds
     its own (``services.indexer.bulk.client_options``: the same serializer);
   - *indexer*: the same articles are put on a fresh ``news.unique`` first;
     then a real worker process (``python -m services.indexer``) reads the
     topic and indexes it; its rate counts the documents Elasticsearch
     acknowledged after the first one until the last one (the worker's
     startup is left out); the time until Kafka has every offset committed
     is reported too, and so are the worker's CPU per document and the share
     of the time its bulk requests kept Elasticsearch busy (from the
     worker's own ``newsflow_es_request_seconds``): near 100% means the
     worker feeds Elasticsearch as fast as it takes documents, and what is
     left of the gap to *raw* is CPU the worker and Kafka take from it.
2. **Latency.** A fresh topic and index, a fresh worker; articles arrive on
   ``news.unique`` at a steady ``--rate`` per second for ``--seconds``; the
   delay of each is from just before it is sent to the first search (polled
   every 50 ms, so refresh included) that finds it. p50, p99 and max.

Every index and topic the run creates is deleted at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from elasticsearch import AsyncElasticsearch
from elasticsearch.helpers import async_bulk

from newsflow.infra import apply_index, apply_topics
from services.indexer.bulk import client_options
from services.indexer.document import document
from shared import codec
from shared.elastic import sync_client
from shared.models import CleanArticle, UniqueArticle
from shared.settings import CommonSettings

REPO = Path(__file__).resolve().parents[2]

# Same as the indexer's defaults (services/indexer/settings.py).
BATCH_SIZE = 500
BATCH_BYTES = 5_000_000


# --- CPU -----------------------------------------------------------------------

_TICK = os.sysconf("SC_CLK_TCK")


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of one process (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICK


def _machine_busy_s() -> float:
    """CPU seconds the whole machine spent not idle since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    idle = values[3] + values[4]  # idle + iowait
    return (sum(values) - idle) / _TICK


def _listener(port: int) -> int | None:
    """The process listening on TCP ``port``, if any."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            cols = line.split()
            if cols[3] == "0A" and int(cols[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(f"socket:[{cols[9]}]")
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
            if any(os.readlink(f"/proc/{pid}/fd/{fd}") in inodes for fd in fds):
                return int(pid)
        except OSError:
            continue
    return None


@dataclass
class CpuMeter:
    """CPU seconds of Elasticsearch, Kafka, the measured client and everything else."""

    es_pid: int | None
    kafka_pid: int | None
    client_pid: int = field(default_factory=os.getpid)

    def sample(self) -> dict[str, float]:
        es = _cpu_s(self.es_pid) if self.es_pid else 0.0
        kafka = _cpu_s(self.kafka_pid) if self.kafka_pid else 0.0
        client = _cpu_s(self.client_pid)
        return {"es": es, "kafka": kafka, "client": client, "machine": _machine_busy_s()}

    @staticmethod
    def spent(before: dict[str, float], after: dict[str, float]) -> str:
        d = {k: after[k] - before[k] for k in before}
        other = d["machine"] - d["es"] - d["kafka"] - d["client"]
        return (
            f"CPU s: elasticsearch {d['es']:.0f}, kafka {d['kafka']:.0f}, "
            f"client {d['client']:.0f}, everything else {other:.0f}"
        )


# --- articles ------------------------------------------------------------------


def _vocabulary(rng: random.Random, size: int) -> list[str]:
    syllables = [c + v for c in "bcdfghklmnprstvwz" for v in ("a", "e", "i", "o", "u", "ai", "ou")]
    words: set[str] = set()
    while len(words) < size:
        words.add("".join(rng.choice(syllables) for _ in range(rng.randint(1, 4))))
    return sorted(words)


def generate(count: int, seed: int = 7) -> list[UniqueArticle]:
    """``count`` unique articles of 300-600 words (Zipf-distributed), 12 sources, 3 languages."""
    rng = random.Random(seed)
    vocabulary = _vocabulary(rng, 30_000)
    weights = [1 / (rank + 1) for rank in range(len(vocabulary))]
    pool = rng.choices(vocabulary, cum_weights=list(_cumulative(weights)), k=2_000_000)
    now = datetime.now(UTC)
    articles = []
    for n in range(count):
        length = rng.randint(300, 600)
        start = rng.randrange(len(pool) - length)
        words = pool[start : start + length]
        source = f"source-{n % 12:02d}"
        article = CleanArticle(
            id=f"bench-{n:07d}",
            source_id=source,
            url=f"https://{source}.example/news/{n}",
            canonical_url=f"https://{source}.example/news/{n}",
            fetched_at=now,
            published_at=now - timedelta(minutes=rng.randint(0, 7 * 24 * 60)),
            title=" ".join(words[:10]).capitalize(),
            text=". ".join(" ".join(words[i : i + 15]) for i in range(0, length, 15)) + ".",
            description=" ".join(words[10:35]),
            authors=[f"Author {rng.randint(1, 400)}"],
            tags=rng.sample(vocabulary[:200], 3),
            section=rng.choice(["World", "Business", "Science", "Culture"]),
            language=rng.choice(["en", "en", "en", "de", "fr"]),
            site_name=source.title(),
            word_count=length,
            extractor="trafilatura",
            extractor_version="2.0.0",
        )
        articles.append(UniqueArticle(kind="unique", article=article, story_id=article.id))
    return articles


def _cumulative(weights: list[float]) -> Iterator[float]:
    total = 0.0
    for weight in weights:
        total += weight
        yield total


# --- infra -----------------------------------------------------------------------


@dataclass
class Run:
    """One fresh set of topics and indices, cleaned up afterwards."""

    kafka: str
    es: str

    def settings(self, tag: str) -> CommonSettings:
        return CommonSettings(
            kafka_bootstrap=self.kafka,
            es_url=self.es,
            topic_prefix=f"{tag}.",
            index_prefix=tag,
            log_format="json",
        )

    async def setup(self, common: CommonSettings) -> None:
        await apply_topics(common)
        with sync_client(common) as es:
            apply_index(es, common)

    def meter(self, client_pid: int | None = None) -> CpuMeter:
        """A CPU meter of this run's servers and ``client_pid`` (default: this process)."""
        es_port = int(self.es.rsplit(":", 1)[1].rstrip("/"))
        kafka_port = int(self.kafka.split(",")[0].rsplit(":", 1)[1])
        return CpuMeter(_listener(es_port), _listener(kafka_port), client_pid or os.getpid())

    async def teardown(self, common: CommonSettings) -> None:
        with sync_client(common) as es:
            es.indices.delete(index=f"{common.index_prefix}-*", ignore_unavailable=True)
            es.indices.delete_index_template(name=f"{common.index_prefix}-*")
        admin = AIOKafkaAdminClient(bootstrap_servers=common.kafka_bootstrap)
        await admin.start()
        try:
            topics = [t for t in await admin.list_topics() if t.startswith(common.index_prefix)]
            if topics:
                await admin.delete_topics(topics)
        finally:
            await admin.close()


@contextmanager
def worker(common: CommonSettings, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A real indexer worker process for ``common``, stopped on exit."""
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "NEWSFLOW_KAFKA_BOOTSTRAP": common.kafka_bootstrap,
        "NEWSFLOW_TOPIC_PREFIX": common.topic_prefix,
        "NEWSFLOW_ES_URL": common.es_url,
        "NEWSFLOW_INDEX_PREFIX": common.index_prefix,
        "NEWSFLOW_INDEXER_APP_ID": f"{common.index_prefix}-indexer",
        "NEWSFLOW_LOG_FORMAT": "json",
        "NEWSFLOW_INDEXER_METRICS_PORT": "0",
    }
    with open(log, "ab") as out, tempfile.TemporaryDirectory() as cwd:
        # Faust keeps a data directory in the working directory.
        proc = subprocess.Popen(
            [sys.executable, "-m", "services.indexer"],
            env=env,
            cwd=cwd,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()


async def produce(common: CommonSettings, messages: list[UniqueArticle]) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=common.kafka_bootstrap,
        acks="all",
        linger_ms=20,
        max_request_size=10_485_760,
        max_batch_size=1_048_576,
    )
    await producer.start()
    try:
        for message in messages:
            await producer.send(
                common.topics.unique, key=message.article.id.encode(), value=codec.encode(message)
            )
        await producer.flush()
    finally:
        await producer.stop()


async def committed(common: CommonSettings) -> int:
    admin = AIOKafkaAdminClient(bootstrap_servers=common.kafka_bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(f"{common.index_prefix}-indexer")
    finally:
        await admin.close()
    return sum(o.offset for tp, o in offsets.items() if tp.topic == common.topics.unique)


async def indexed(es: AsyncElasticsearch, index: str) -> int:
    """Documents Elasticsearch has acknowledged into ``index`` (no refresh needed)."""
    stats = await es.indices.stats(index=index, metric="indexing")
    return int(stats["_all"]["primaries"]["indexing"]["index_total"])


# --- throughput ------------------------------------------------------------------


async def raw_rate(run: Run, messages: list[UniqueArticle]) -> tuple[float, str]:
    """Documents per second of ``async_bulk`` into a fresh index of the same template.

    Also the CPU each party spent meanwhile.
    """
    common = run.settings(f"bench{uuid.uuid4().hex[:8]}raw")
    await run.setup(common)
    now = datetime.now(UTC)
    actions = [
        {"_op_type": "create", "_index": common.write_alias, "_id": m.article.id}
        | {"_source": document(m, now)}
        for m in messages
    ]
    # The client the indexer builds (same serializer, same timeouts).
    es = AsyncElasticsearch(common.es_url, **client_options(60))
    meter = run.meter()
    try:
        before, started = meter.sample(), time.perf_counter()
        ok, _ = await async_bulk(
            es, actions, chunk_size=BATCH_SIZE, max_chunk_bytes=BATCH_BYTES, stats_only=True
        )
        elapsed, after = time.perf_counter() - started, meter.sample()
    finally:
        await es.close()
        await run.teardown(common)
    assert ok == len(messages), f"async_bulk indexed {ok} of {len(messages)}"
    return len(messages) / elapsed, CpuMeter.spent(before, after)


async def indexer_rate(
    run: Run, messages: list[UniqueArticle], logs: Path
) -> tuple[float, float, str, str]:
    """The worker's docs/s while indexing, seconds from its first to its last
    commit, the CPU each party spent while it indexed, and how busy the
    worker kept Elasticsearch (with its CPU per document)."""
    common = run.settings(f"bench{uuid.uuid4().hex[:8]}idx")
    await run.setup(common)
    total = len(messages)
    es = AsyncElasticsearch(common.es_url, request_timeout=60)
    log = logs / "indexer-throughput.log"
    log_start = log.stat().st_size if log.exists() else 0
    try:
        await produce(common, messages)
        with worker(common, log) as proc:
            meter = run.meter(client_pid=proc.pid)
            first_at, first_count, before = 0.0, 0, meter.sample()
            port, bulk_before = None, 0.0
            while True:
                count = await indexed(es, common.read_alias)
                now = time.perf_counter()
                if count and not first_at:
                    first_at, first_count, before = now, count, meter.sample()
                    port = _metrics_port(log, log_start)
                    bulk_before = await _bulk_seconds(port)
                if count >= total:
                    done_at, after = now, meter.sample()
                    bulk_after = await _bulk_seconds(port)
                    break
                if proc.poll() is not None:
                    raise RuntimeError(f"the worker exited; see {logs}")
                await asyncio.sleep(0.05)
            while await committed(common) < total:
                await asyncio.sleep(0.05)
            committed_at = time.perf_counter()
    finally:
        await es.close()
        await run.teardown(common)
    rate = (total - first_count) / (done_at - first_at)
    per_doc_us = (after["client"] - before["client"]) / (total - first_count) * 1e6
    busy = (bulk_after - bulk_before) / (done_at - first_at)
    feeding = (
        f"worker CPU {per_doc_us:.0f} us/doc; its bulk requests kept Elasticsearch "
        f"busy {busy:.0%} of the time"
    )
    return rate, committed_at - first_at, CpuMeter.spent(before, after), feeding


def _metrics_port(log: Path, offset: int) -> int | None:
    """The metrics port the worker logged (after ``offset`` of its log)."""
    with open(log, "rb") as lines:
        lines.seek(offset)
        for line in lines:
            if b'"serving metrics"' in line:
                return int(json.loads(line)["port"])
    return None


async def _bulk_seconds(port: int | None) -> float:
    """Seconds the worker's bulk requests took so far (its ``newsflow_es_request_seconds``).

    Elasticsearch handles one bulk request of the worker at a time, so the
    growth of this sum over a stretch of wall time is the share of it that
    Elasticsearch spent on the worker's requests rather than waiting for the
    next one.
    """
    if port is None:
        return 0.0

    def scrape() -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            return str(response.read().decode())

    for line in (await asyncio.to_thread(scrape)).splitlines():
        if line.startswith("newsflow_es_request_seconds_sum{") and 'operation="bulk"' in line:
            return float(line.rsplit(" ", 1)[1])
    return 0.0


# --- latency ---------------------------------------------------------------------


async def latencies(
    run: Run, messages: list[UniqueArticle], rate: float, logs: Path
) -> list[float]:
    """Seconds from sending each message to the first search that finds it."""
    common = run.settings(f"bench{uuid.uuid4().hex[:8]}lat")
    await run.setup(common)
    es = AsyncElasticsearch(common.es_url, request_timeout=30)
    producer = AIOKafkaProducer(bootstrap_servers=common.kafka_bootstrap, acks="all")
    await producer.start()
    sent: dict[str, float] = {}
    seen: dict[str, float] = {}
    try:
        with worker(common, logs / "indexer-latency.log"):
            await _warm_up(common, es, producer, messages[0])
            stream = messages[1:]
            polling = asyncio.create_task(_poll(es, common.read_alias, sent, seen, len(stream)))
            tick = 0.05  # 20 sends a second, rate/20 articles each
            per_tick = rate * tick
            started = time.perf_counter()
            for n, message in enumerate(stream):
                due = started + int(n / per_tick) * tick
                if (wait := due - time.perf_counter()) > 0:
                    await asyncio.sleep(wait)
                sent[message.article.id] = time.perf_counter()
                await producer.send(
                    common.topics.unique,
                    key=message.article.id.encode(),
                    value=codec.encode(message),
                )
            await asyncio.wait_for(polling, 120)
    finally:
        await producer.stop()
        await es.close()
        await run.teardown(common)
    return [seen[i] - sent[i] for i in sent]


async def _warm_up(
    common: CommonSettings, es: AsyncElasticsearch, producer: AIOKafkaProducer, m: UniqueArticle
) -> None:
    """Wait until the worker has joined its group and indexed a first article."""
    await producer.send_and_wait(
        common.topics.unique, key=m.article.id.encode(), value=codec.encode(m)
    )
    deadline = time.perf_counter() + 120
    while time.perf_counter() < deadline:
        found = await es.search(
            index=common.read_alias, query={"ids": {"values": [m.article.id]}}, size=1
        )
        if found["hits"]["hits"]:
            return
        await asyncio.sleep(0.1)
    raise RuntimeError("the worker indexed nothing within 120 s")


async def _poll(
    es: AsyncElasticsearch, index: str, sent: dict[str, float], seen: dict[str, float], total: int
) -> None:
    while len(seen) < total:
        waiting = [i for i in sent if i not in seen]
        if waiting:
            response = await es.search(
                index=index, query={"ids": {"values": waiting}}, size=len(waiting), source=False
            )
            now = time.perf_counter()
            for hit in response["hits"]["hits"]:
                seen.setdefault(hit["_id"], now)
        await asyncio.sleep(0.05)


# --- main ------------------------------------------------------------------------


def _percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=1000, method="inclusive")[int(q * 1000) - 1]


async def main(args: argparse.Namespace) -> None:
    run = Run(args.kafka, args.es)
    logs = Path(tempfile.mkdtemp(prefix="bench-indexer-"))
    print(f"elasticsearch {args.es}, kafka {args.kafka}, worker logs in {logs}")
    started = time.perf_counter()
    messages = generate(args.articles, args.seed)
    size = sum(len(codec.encode(m)) for m in messages[:1000]) / 1000
    print(f"generated {len(messages):,} articles, {size / 1024:.1f} KB each on average")
    if not args.skip_throughput:
        # Elasticsearch's first minute (JIT, caches) is slower: not measured.
        await raw_rate(run, messages[: len(messages) // 5])
        ratios = []
        for round_ in range(1, args.rounds + 1):
            # Alternate the order, so a drift of the shared machine favours neither.
            if round_ % 2:
                raw, raw_cpu = await raw_rate(run, messages)
                ours, commit_span, our_cpu, feeding = await indexer_rate(run, messages, logs)
            else:
                ours, commit_span, our_cpu, feeding = await indexer_rate(run, messages, logs)
                raw, raw_cpu = await raw_rate(run, messages)
            ratios.append(ours / raw)
            print(f"round {round_}: indexer / raw = {ours / raw:.2f}")
            print(f"  raw async_bulk      {raw:7,.0f} docs/s   {raw_cpu}")
            print(f"  indexer end to end  {ours:7,.0f} docs/s   {our_cpu}")
            print(f"  {feeding}")
            print(f"  every offset committed {commit_span:.1f} s after the first document")
        ratio = statistics.median(ratios)
        verdict = "meets" if ratio >= 0.9 else "misses"
        print(f"indexer / raw, median of {len(ratios)} rounds = {ratio:.2f} ({verdict} 0.9)")
    if not args.skip_latency:
        count = int(args.rate * args.seconds) + 1
        stream = generate(count, args.seed + 1)
        delays = await latencies(run, stream, args.rate, logs)
        p50, p99 = _percentile(delays, 0.5), _percentile(delays, 0.99)
        verdict = "meets" if p99 < 2.0 else "misses"
        print(
            f"news.unique → searchable at {args.rate:.0f}/s for {args.seconds:.0f} s "
            f"({len(delays):,} articles): p50 {p50:.2f} s, p99 {p99:.2f} s, "
            f"max {max(delays):.2f} s ({verdict} p99 < 2 s)"
        )
    print(f"total {time.perf_counter() - started:.0f} s")


def _args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=50_000)
    parser.add_argument("--rate", type=float, default=200.0, help="articles per second")
    parser.add_argument("--seconds", type=float, default=30.0, help="length of the latency run")
    parser.add_argument("--kafka", default="127.0.0.1:19092")
    parser.add_argument("--es", default="http://127.0.0.1:19200")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--rounds", type=int, default=2, help="raw + indexer pairs")
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--skip-latency", action="store_true")
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(_args()))
