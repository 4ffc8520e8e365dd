"""CPU per article of one dedup worker over a backlog, and its decisions checked.

``python -m bench.dedup.service [--seed 7] [--scale 4] [--profile out.prof]``

Builds one ``CleanArticle`` per document of the bench/dedup evaluation stream
(:func:`bench.dedup.generate.generate`; scale 4 gives about 5,200), creates
the pipeline's topics under a fresh prefix (``benchdd<ts>.``) and starts one
worker (``python -m services.dedup``, as the tests and ``newsflow up`` do).
Once the worker is ready (``/readyz``) and has idled a few seconds (its idle
CPU rate is measured and reported), the articles are produced in arrival
order to partition 0 of ``news.clean`` with the document's time as the
message timestamp (the service's clock), and the run ends when the worker
has emitted one verdict per article and committed everything it read.

Reports, as one JSON object: the CPU the same decisions take in this
process (:class:`~services.dedup.resolve.InMemoryDeduper`, fingerprints
included: the floor), and per worker run the worker's CPU seconds over the
drain (user + system, from /proc; the producing, done by this process, is not
counted) and per article, the wall time from the first article sent to
drained, and Kafka's CPU over the same time (changelog writes cost the broker
too).

It then checks the verdicts: each article's (kind, story, duplicate of,
similarity) must equal what :class:`~services.dedup.resolve.InMemoryDeduper`
(``newsflow dedup``) decides on the same stream in the same order. One input
partition keeps that order exact, however many workers share the decisions
(``--workers N``: N worker processes, their CPU summed).

``--repo DIR`` (repeatable) runs a worker from each checkout in turn, e.g. an
older commit unpacked by ``git archive`` in /tmp and then this one
(``--repo /tmp/old --repo .``), so a baseline is measured in the same run,
against the same Kafka, under the same load.

``--profile PATH`` runs the worker under cProfile (much slower; only to see
where the time goes) and writes the stats to PATH when it stops.

Needs Kafka: ``NEWSFLOW_KAFKA_BOOTSTRAP`` (e.g. the test run's 127.0.0.1:19092).
The run's topics are deleted at the end unless ``--keep``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from bench.dedup.generate import Doc, generate
from bench.pipeline.measure import CpuMeter, pid_listening_on, ready
from newsflow.infra import apply_topics
from newsflow.status import DrainWatch, kafka_status, stage_specs
from newsflow.topicread import partitions_of, read_topic
from services.dedup.decide import Article
from services.dedup.resolve import InMemoryDeduper
from shared import codec
from shared.models import CleanArticle, UniqueArticle
from shared.settings import CommonSettings

REPO = Path(__file__).resolve().parents[2]

Verdict = tuple[str, str, str | None, float | None]


def articles(docs: Sequence[Doc]) -> list[tuple[CleanArticle, int]]:
    """Each document as a ``news.clean`` message, with its timestamp in ms."""
    out = []
    for doc in docs:
        ms = int(doc.seen_at.timestamp() * 1000)
        clean = doc.clean(language="en", word_count=len(doc.text.split()), extractor="bench")
        out.append((clean, ms))
    return out


def expected(stream: Sequence[tuple[CleanArticle, int]]) -> dict[str, Verdict]:
    """What ``newsflow dedup``'s code decides, with the clock the worker sees."""
    deduper = InMemoryDeduper()
    verdicts: dict[str, Verdict] = {}
    for clean, ms in stream:
        seen_at = datetime.fromtimestamp(ms / 1000.0, UTC)
        d = deduper.process(Article.from_clean(clean, seen_at=seen_at))
        verdicts[clean.id] = (d.kind, d.story_id, d.duplicate_of, d.similarity)
    return verdicts


async def produce(common: CommonSettings, stream: Sequence[tuple[CleanArticle, int]]) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=common.kafka_bootstrap,
        acks="all",
        linger_ms=20,
        max_batch_size=1 << 20,
        max_request_size=10_485_760,
    )
    await producer.start()
    try:
        for clean, ms in stream:
            await producer.send(
                common.topics.clean,
                key=clean.id.encode(),
                value=codec.encode(clean),
                partition=0,
                timestamp_ms=ms,
            )
        await producer.flush()
    finally:
        await producer.stop()


def wait_ready(
    common: CommonSettings, app_id: str, procs: Sequence[subprocess.Popen[bytes]]
) -> None:
    specs = stage_specs(common, {"dedup": app_id})
    while True:
        stages, _ = asyncio.run(kafka_status(common, specs))
        members = stages[0].members
        if len(members) >= len(procs) and all(ready(m.metrics_port) for m in members):
            return
        if any(proc.poll() is not None for proc in procs):
            raise RuntimeError("a worker exited before it was ready")
        time.sleep(0.3)


def wait_drained(common: CommonSettings, app_id: str, total: int, timeout_s: float) -> None:
    """Until every article has its verdict on news.unique and all input is committed."""
    asyncio.run(_until_drained(common, app_id, total, timeout_s))


async def _until_drained(common: CommonSettings, app_id: str, total: int, timeout_s: float) -> None:
    # One consumer and one DrainWatch for the whole wait: clients opened for
    # every look (about 130 ms of CPU each, four times a second) would take
    # a third of a core from the workers being measured.
    topic = common.topics.unique
    deadline = time.monotonic() + timeout_s
    consumer = AIOKafkaConsumer(bootstrap_servers=common.kafka_bootstrap)
    await consumer.start()
    try:
        specs = stage_specs(common, {"dedup": app_id})
        async with DrainWatch(common, specs) as watch:
            tps = [
                TopicPartition(topic, p) for p in await partitions_of(common.kafka_bootstrap, topic)
            ]
            while time.monotonic() < deadline:
                verdicts = sum((await consumer.end_offsets(tps)).values())
                if verdicts >= total and (await watch.check()).drained:
                    return
                await asyncio.sleep(0.25)
    finally:
        await consumer.stop()
    raise TimeoutError(f"not drained after {timeout_s:.0f} s")


async def verdicts(common: CommonSettings, total: int) -> dict[str, list[Verdict]]:
    messages = await read_topic(
        common.kafka_bootstrap,
        common.topics.unique,
        until=lambda rs: len(rs) >= total,
        timeout_s=120,
    )
    found: dict[str, list[Verdict]] = {}
    for record in messages:
        v = codec.decode(UniqueArticle, record.value)
        found.setdefault(v.article.id, []).append(
            (v.kind, v.story_id, v.duplicate_of, v.similarity)
        )
    return found


async def drop_topics(common: CommonSettings, tag: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=common.kafka_bootstrap)
    await admin.start()
    try:
        names = [t for t in await admin.list_topics() if t.startswith(tag)]
        if names:
            await admin.delete_topics(names)
    finally:
        await admin.close()


def measure(
    args: argparse.Namespace,
    repo: Path,
    stream: Sequence[tuple[CleanArticle, int]],
    want: dict[str, Verdict],
) -> dict[str, Any]:
    """One worker run from ``repo`` over ``stream``, on topics of its own."""
    stamp = time.time_ns() // 1_000_000
    tag = f"benchdd{stamp}"
    common = CommonSettings(topic_prefix=f"{tag}.", index_prefix=tag, log_level="WARNING")
    app_id = f"{tag}-dedup"
    asyncio.run(apply_topics(common))
    env = {
        **os.environ,
        "NEWSFLOW_KAFKA_BOOTSTRAP": common.kafka_bootstrap,
        "NEWSFLOW_TOPIC_PREFIX": common.topic_prefix,
        "NEWSFLOW_INDEX_PREFIX": common.index_prefix,
        "NEWSFLOW_LOG_LEVEL": "WARNING",
        "NEWSFLOW_DEDUP_APP_ID": app_id,
        "NEWSFLOW_DEDUP_METRICS_PORT": "0",
    }
    command = [sys.executable, "-m", "services.dedup"]
    if args.profile:
        command[1:1] = ["-m", "cProfile", "-o", str(Path(args.profile).resolve())]
    kafka = pid_listening_on(int(common.kafka_bootstrap.rsplit(":", 1)[1]))
    with tempfile.TemporaryDirectory(prefix="bench-dedup-service-") as logs:
        log_path = Path(logs) / "dedup.log"
        procs = []
        with open(log_path, "wb") as log:
            for _ in range(args.workers):
                procs.append(
                    subprocess.Popen(
                        command, env=env, cwd=repo, stdout=log, stderr=subprocess.STDOUT
                    )
                )
        pids = [proc.pid for proc in procs]
        try:
            wait_ready(common, app_id, procs)
            idle = CpuMeter({"worker": pids})
            idle.start()
            time.sleep(args.idle_s)
            idle_cpu = idle.stop()["worker"]
            meter = CpuMeter({"worker": pids, "kafka": [kafka] if kafka else []})
            started = time.monotonic()
            meter.start()
            asyncio.run(produce(common, stream))
            wait_drained(common, app_id, len(stream), args.timeout_s)
            wall = time.monotonic() - started
            cpu = meter.stop()
        except BaseException:
            sys.stderr.write(log_path.read_text(errors="replace")[-5000:])
            raise
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                proc.wait(60)
        found = asyncio.run(verdicts(common, len(stream)))
    if not args.keep:
        asyncio.run(drop_topics(common, tag))
    wrong = [(cid, want[cid], found.get(cid)) for cid in want if found.get(cid) != [want[cid]]]
    n = len(stream)
    return {
        "worker": str(repo),
        "workers": args.workers,
        "wall_s": round(wall, 2),
        "articles_per_s": round(n / wall, 1),
        "worker_cpu_s": cpu["worker"],
        "worker_cpu_ms_per_article": round(1000 * cpu["worker"] / n, 3),
        "worker_idle_cpu_per_s": round(idle_cpu / args.idle_s, 4),
        "kafka_cpu_s": cpu.get("kafka"),
        "machine_cpu_s": cpu["machine"],
        "verdicts_differing_from_in_memory": len(wrong),
        "first_differences": [list(map(str, w)) for w in wrong[:5]],
        "load_average": round(os.getloadavg()[0], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--scale", type=float, default=4.0, help="4: about 5,200 articles")
    parser.add_argument("--workers", type=int, default=1, help="worker processes per run")
    parser.add_argument("--idle-s", type=float, default=3.0, help="idle CPU measured this long")
    parser.add_argument("--timeout-s", type=float, default=900.0)
    parser.add_argument("--profile", help="run the worker under cProfile, stats to this file")
    parser.add_argument(
        "--repo",
        action="append",
        type=Path,
        help="run a worker from this checkout (repeatable, in order; default: this one)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the runs' topics")
    args = parser.parse_args()
    stream = articles(generate(args.seed, args.scale))
    started = time.process_time()
    want = expected(stream)
    in_process = time.process_time() - started
    n = len(stream)
    runs = [measure(args, repo, stream, want) for repo in args.repo or [REPO]]
    result = {
        "articles": n,
        "kinds": {k: sum(v[0] == k for v in want.values()) for k in ("unique", "near", "exact")},
        # The same decisions in this process (InMemoryDeduper, fingerprints
        # included): the work itself, measured in the same run; the rest of
        # a worker's CPU is the service's own.
        "in_process_cpu_ms_per_article": round(1000 * in_process / n, 3),
        "runs": runs,
    }
    print(json.dumps(result, indent=2))
    if any(r["verdicts_differing_from_in_memory"] for r in runs):
        sys.exit(1)


if __name__ == "__main__":
    main()
