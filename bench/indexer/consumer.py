"""CPU per message of the consumer under the indexer: Faust against plain aiokafka, one run.

``python -m bench.indexer.consumer [--messages 30000] [--kafka 127.0.0.1:19092]``

The same backlog of articles (as ``bench.indexer.run`` generates them, about
4 KB each) is read twice from a fresh topic of 8 partitions, with nothing
done per message:

- *faust*: a worker process whose agent takes the stream in batches of 500
  through :func:`shared.kafka.batches`, as the indexer's agent does, with the
  indexer's fetch size;
- *aiokafka*: a plain ``AIOKafkaConsumer`` in this process, ``getmany`` of up
  to 500 records and a commit per batch.

Each reports the CPU seconds of its process (all threads) per message from
its 2,000th message to its last, and its rate. The difference is what the
indexer pays per article for Faust's per-message handling, before any work
of its own.
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
import uuid

from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from bench.indexer.run import REPO, generate, produce
from services.indexer.settings import IndexerSettings
from shared.settings import CommonSettings

# Startup (group join, first fetches) is left out of the measure.
_SKIP = 2_000


def _report(kind: str, cpu_s: float, wall_s: float, count: int) -> str:
    return json.dumps({"kind": kind, "cpu_us_per_msg": cpu_s / count * 1e6, "rate": count / wall_s})


async def plain(kafka: str, topic: str, total: int) -> str:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=kafka,
        group_id=f"{topic}-plain",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    seen, start = 0, (0.0, 0.0, 0)
    try:
        while seen < total:
            got = await consumer.getmany(timeout_ms=100, max_records=500)
            seen += sum(len(records) for records in got.values())
            if got:
                await consumer.commit()
            if not start[2] and seen >= _SKIP:
                start = (time.process_time(), time.perf_counter(), seen)
    finally:
        await consumer.stop()
    cpu, wall = time.process_time() - start[0], time.perf_counter() - start[1]
    return _report("aiokafka", cpu, wall, seen - start[2])


def faust_worker(kafka: str, topic: str, total: int) -> None:
    """Run a Faust worker that reads ``total`` messages, prints its report and exits."""
    import faust

    from shared.kafka import batches, make_app, raw_topic

    common = CommonSettings(kafka_bootstrap=kafka)
    fetch = IndexerSettings(common=common).fetch_partition_bytes
    app = make_app(f"{topic}-faust", common, consumer_max_fetch_size=fetch)
    source = raw_topic(app, topic)
    state = {"seen": 0}
    start = [0.0, 0.0, 0]

    @app.agent(source)
    async def read(stream: faust.StreamT[bytes]) -> None:
        async for events in batches(stream, 500, 0.1):
            state["seen"] += len(events)
            if not start[2] and state["seen"] >= _SKIP:
                start[:] = [time.process_time(), time.perf_counter(), state["seen"]]
            if state["seen"] >= total:
                cpu, wall = time.process_time() - start[0], time.perf_counter() - start[1]
                print(_report("faust", cpu, wall, state["seen"] - int(start[2])), flush=True)
                os._exit(0)  # the measure is taken; a clean shutdown adds nothing

    faust.Worker(app, loglevel="error", redirect_stdouts=False).execute_from_commandline()


async def main(args: argparse.Namespace) -> None:
    topic = f"benchconsumer{uuid.uuid4().hex[:8]}"
    common = CommonSettings(kafka_bootstrap=args.kafka, topic_prefix=f"{topic}.")
    admin = AIOKafkaAdminClient(bootstrap_servers=args.kafka)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(common.topics.unique, 8, 1)])
        await produce(common, generate(args.messages))
        command = [sys.executable, "-m", "bench.indexer.consumer", "--kafka", args.kafka]
        command += ["--faust-worker", common.topics.unique, "--messages", str(args.messages)]
        # Faust keeps a data directory in the working directory.
        with tempfile.TemporaryDirectory() as cwd:
            proc = subprocess.run(
                command,
                env={**os.environ, "PYTHONPATH": str(REPO)},
                cwd=cwd,
                capture_output=True,
                text=True,
                timeout=600,
            )
        lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
        if not lines:
            raise RuntimeError(f"the Faust worker reported nothing:\n{proc.stdout[-2000:]}")
        for line in (lines[-1], await plain(args.kafka, common.topics.unique, args.messages)):
            r = json.loads(line)
            print(
                f"{r['kind']:9} {r['cpu_us_per_msg']:6.1f} us CPU/message  {r['rate']:8,.0f} msg/s"
            )
    finally:
        await admin.delete_topics([common.topics.unique])
        await admin.close()


def _args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=30_000)
    parser.add_argument("--kafka", default="127.0.0.1:19092")
    parser.add_argument("--faust-worker", metavar="TOPIC", help=argparse.SUPPRESS)
    return parser.parse_args()


if __name__ == "__main__":
    arguments = _args()
    if arguments.faust_worker:
        faust_worker(arguments.kafka, arguments.faust_worker, arguments.messages)
    else:
        asyncio.run(main(arguments))
