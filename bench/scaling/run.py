"""Scale-out of the cleaner: one worker, then two, on the same backlog, in one run.

Puts ``--pages`` generated article pages on a fresh ``news.raw`` (topic prefix
``bench-scaling-<ts>.``), then for 1 and for 2 cleaner workers (each a process
with one extraction child, as ``newsflow up --workers cleaner=N`` starts them)
runs a fresh consumer group over the whole backlog. The rate is measured in
steady state: the pages whose results the workers sent from the moment every
worker of the group reports ready (``/readyz``), over the time to the last
result sent (both read from the output topics' timestamps). Also
prints, for each phase, the CPU seconds (and cores) of the workers with their
extraction processes, of Kafka and Elasticsearch (found by their ports), of
everything else, how busy the whole machine was and the load average, so a
slow run can be told from a busy machine.

    .venv/bin/python -m bench.scaling.run [--pages 12000]

Needs Kafka (``NEWSFLOW_KAFKA_BOOTSTRAP``, e.g. from ``infra/local/newsflow-local env``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from bench.pipeline.measure import CpuMeter, pid_listening_on, ready
from bench.pipeline.site import raw_article
from newsflow.infra import apply_topics
from newsflow.status import kafka_status, stage_specs
from newsflow.topicread import partitions_of
from shared import codec
from shared.settings import CommonSettings

REPO = Path(__file__).resolve().parents[2]


@dataclass
class Result:
    workers: int
    pages: int
    seconds: float
    rate: float
    # Seconds from starting the worker processes to the backlog's last result:
    # start-up and the group's join included, which the rate leaves out.
    whole: float
    metered: float  # seconds the CPU meter ran: the phase, and the wait to see it done
    cpu: dict[str, float]
    load: str


async def fill(common: CommonSettings, pages: int) -> None:
    """``pages`` generated article pages on the raw topic."""
    producer = AIOKafkaProducer(
        bootstrap_servers=common.kafka_bootstrap, acks="all", linger_ms=20, max_batch_size=1 << 20
    )
    await producer.start()
    try:
        for n in range(pages):
            article = raw_article(n, "http://bench.invalid")
            await producer.send(
                common.topics.raw, key=article.id.encode(), value=codec.encode(article)
            )
        await producer.flush()
    finally:
        await producer.stop()


def _group_ready(common: CommonSettings, app_id: str, workers: int) -> bool:
    specs = stage_specs(common, {"cleaner": app_id})
    try:
        stages, _ = asyncio.run(kafka_status(common, specs))
    except KafkaError:  # e.g. no group coordinator yet on a fresh broker
        return False
    members = stages[0].members
    return len(members) == workers and all(ready(m.metrics_port) for m in members)


def server_pids(common: CommonSettings) -> tuple[int | None, int | None]:
    """The processes of Kafka and Elasticsearch, looked up before any worker starts.

    A lookup skips a process whose sockets change while it reads them, so it
    can miss a busy Kafka; it is tried a few times, and a miss is said.
    """
    ports = {
        "kafka": int(common.kafka_bootstrap.rsplit(":", 1)[1]),
        "elasticsearch": int(common.es_url.rsplit(":", 1)[1].rstrip("/")),
    }
    found: dict[str, int | None] = {}
    for name, port in ports.items():
        for _ in range(5):
            found[name] = pid = pid_listening_on(port)
            if pid is not None:
                break
            time.sleep(0.2)
        else:
            print(f"{name}'s process (port {port}) not found: its CPU counts under others")
    return found["kafka"], found["elasticsearch"]


def measure(
    common: CommonSettings,
    workers: int,
    logs: Path,
    group: str,
    servers: tuple[int | None, int | None],
) -> Result:
    """Run ``workers`` cleaners as a fresh consumer ``group`` over the backlog; their rate."""
    app_id = group
    env = {
        **os.environ,
        "NEWSFLOW_KAFKA_BOOTSTRAP": common.kafka_bootstrap,
        "NEWSFLOW_TOPIC_PREFIX": common.topic_prefix,
        "NEWSFLOW_CLEANER_APP_ID": app_id,
        "NEWSFLOW_CLEANER_METRICS_PORT": "0",
        "NEWSFLOW_LOG_LEVEL": "WARNING",
    }
    spawned = time.time()
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "services.cleaner"],
            env=env,
            cwd=REPO,
            stdout=open(logs / f"{app_id}-{i}.log", "wb"),  # noqa: SIM115 (the child owns it)
            stderr=subprocess.STDOUT,
        )
        for i in range(workers)
    ]
    kafka, es = servers
    meter = CpuMeter(
        {
            "cleaners": [p.pid for p in procs],
            "kafka": [kafka] if kafka else [],
            "elasticsearch": [es] if es else [],
        }
    )
    try:
        while not _group_ready(common, app_id, workers):
            time.sleep(0.2)
        done, since, last, metered, cpu = asyncio.run(_watch(common, app_id, meter))
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(30)
    seconds = last - since
    rate = round(done / seconds, 1)
    return Result(
        workers,
        done,
        round(seconds, 2),
        rate,
        round(last - spawned, 2),
        round(metered, 2),
        cpu,
        _loadavg(),
    )


async def _watch(
    common: CommonSettings, group: str, meter: CpuMeter
) -> tuple[int, float, float, float, dict[str, float]]:
    """Pages done from now until the group has committed the whole backlog.

    Returns the pages, when the watch began and when the last page's result
    was sent (epoch seconds), the seconds the CPU meter ran, and its CPU
    seconds. Pages and seconds come from the output topics' own
    timestamps (each page's result is stamped by the worker that sent it):
    the group's committed offsets tell when the backlog is done, but they
    trail the work by up to a commit interval (1 s), which on a 7 s phase
    had moved the ratio of two phases by ±15 %.

    One admin client and one consumer for the whole phase: opening them anew
    for every look (as ``newsflow status`` does) cost this process 130 ms of
    CPU each time, a quarter of a core taken from the workers being measured.
    """
    topic = common.topics.raw
    admin = AIOKafkaAdminClient(bootstrap_servers=common.kafka_bootstrap)
    consumer = AIOKafkaConsumer(bootstrap_servers=common.kafka_bootstrap, enable_auto_commit=False)
    await admin.start()
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in await partitions_of(common.kafka_bootstrap, topic)]
        backlog = sum((await consumer.end_offsets(tps)).values())

        async def committed() -> int:
            offsets = await admin.list_consumer_group_offsets(group)
            return sum(max(offsets[tp].offset, 0) for tp in tps if tp in offsets)

        since = time.time()
        started = time.monotonic()
        meter.start()
        while await committed() < backlog:
            await asyncio.sleep(0.25)
        metered = time.monotonic() - started
        cpu = meter.stop()
        outputs = [common.topics.clean, common.topics.deadletter]
        done, last = await stamped_since(common, consumer, outputs, since)
        return done, since, last, metered, cpu
    finally:
        await consumer.stop()
        await admin.close()


async def stamped_since(
    common: CommonSettings, consumer: AIOKafkaConsumer, topics: list[str], since: float
) -> tuple[int, float]:
    """How many messages ``topics`` hold stamped at or after ``since`` (epoch s); the newest stamp.

    ``consumer`` belongs to no group; it is assigned the topics' partitions here.
    """
    since_ms = int(since * 1000)
    tps = [
        TopicPartition(t, p) for t in topics for p in await partitions_of(common.kafka_bootstrap, t)
    ]
    consumer.assign(tps)
    firsts = await consumer.offsets_for_times({tp: since_ms for tp in tps})
    ends = await consumer.end_offsets(tps)
    todo: dict[TopicPartition, int] = {}
    for tp in tps:
        first = firsts[tp]
        if first is not None and first.offset < ends[tp]:
            consumer.seek(tp, first.offset)
            todo[tp] = ends[tp]
    count, newest_ms = 0, since_ms
    while todo:
        fetched = await consumer.getmany(*todo, timeout_ms=1000)
        for tp, records in fetched.items():
            # Two workers' stamps interleave within a partition: test each one.
            stamped = [r.timestamp for r in records if r.timestamp >= since_ms]
            count += len(stamped)
            newest_ms = max([newest_ms, *stamped])
            if records and records[-1].offset + 1 >= todo[tp]:
                del todo[tp]
    return count, newest_ms / 1000


def _loadavg() -> str:
    """The 1, 5 and 15 minute load averages: other work on a shared host shows here."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def describe(result: Result) -> str:
    """One phase in words: rate, CPU seconds and cores per process group, machine busy %."""
    cores = os.cpu_count() or 1
    busy = result.cpu["machine"] / (result.metered * cores) * 100
    per_page = result.cpu["cleaners"] / result.pages * 1000 if result.pages else 0.0
    groups = ", ".join(
        f"{name} {cpu_s} s ({cpu_s / result.metered:.2f} cores)"
        for name, cpu_s in result.cpu.items()
        if name != "machine"
    )
    return (
        f"{result.workers} worker(s): {result.pages} pages in {result.seconds} s = "
        f"{result.rate} pages/s (the whole backlog {result.whole} s from starting the "
        f"processes); cleaners {per_page:.2f} ms CPU per page; CPU: {groups}; "
        f"machine {busy:.0f}% busy of {cores} cores; load average after {result.load}"
    )


async def drop_topics(common: CommonSettings, stamp: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=common.kafka_bootstrap)
    await admin.start()
    try:
        names = [
            t
            for t in await admin.list_topics()
            if t.startswith(common.topic_prefix) or t.startswith(f"bench-scaling-{stamp}-")
        ]
        await admin.delete_topics(names)
    finally:
        await admin.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pages", type=int, default=12000)
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="pairs of phases, the order alternating; the speed-up is their median",
    )
    args = parser.parse_args()
    stamp = int(time.time())
    common = CommonSettings().model_copy(update={"topic_prefix": f"bench-scaling-{stamp}."})
    asyncio.run(apply_topics(common))
    started = time.monotonic()
    asyncio.run(fill(common, args.pages))
    print(
        f"backlog: {args.pages} pages on {common.topics.raw} in {time.monotonic() - started:.1f} s;"
        f" load average before {_loadavg()}"
    )
    servers = server_pids(common)
    rounds: list[dict[int, Result]] = []
    with tempfile.TemporaryDirectory(prefix="bench-scaling-") as logs:
        try:
            for n in range(args.rounds):
                # Alternate which phase goes first, so a machine growing busier
                # or quieter during the run does not favour one of them.
                pair: dict[int, Result] = {}
                for workers in (1, 2) if n % 2 == 0 else (2, 1):
                    group = f"bench-scaling-{stamp}-r{n}-x{workers}"
                    pair[workers] = measure(common, workers, Path(logs), group, servers)
                    print(f"round {n + 1}: {describe(pair[workers])}", flush=True)
                print(f"round {n + 1}: speed-up {pair[2].rate / pair[1].rate:.2f}x", flush=True)
                rounds.append(pair)
        finally:
            asyncio.run(drop_topics(common, stamp))
    speedups = [pair[2].rate / pair[1].rate for pair in rounds]
    print(
        f"speed-up with 2 workers: {statistics.median(speedups):.2f}x median of "
        f"{', '.join(f'{s:.2f}' for s in speedups)} (target >= 1.6x)"
    )
    wholes = [pair[1].whole / pair[2].whole for pair in rounds]
    print(
        f"the whole backlog, start-up and the group's join included: "
        f"{statistics.median(wholes):.2f}x median of {', '.join(f'{w:.2f}' for w in wholes)}"
    )
    summary = {
        "rounds": [{w: r.__dict__ for w, r in pair.items()} for pair in rounds],
        "speedups": [round(s, 2) for s in speedups],
        "speedup": round(statistics.median(speedups), 2),
        "whole_speedups": [round(w, 2) for w in wholes],
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
