"""Helpers for tests that run real services against the test run's Kafka and Elasticsearch."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from aiokafka import AIOKafkaProducer

from newsflow.infra import apply_index, apply_topics
from newsflow.topicread import partitions_of, read_topic
from shared.elastic import sync_client
from shared.settings import CommonSettings

REPO = Path(__file__).resolve().parent.parent


def service_env(common: CommonSettings, **extra: str) -> dict[str, str]:
    """Environment for a service process of this test: its settings and own groups."""
    tag = common.index_prefix
    env = {
        "NEWSFLOW_KAFKA_BOOTSTRAP": common.kafka_bootstrap,
        "NEWSFLOW_TOPIC_PREFIX": common.topic_prefix,
        "NEWSFLOW_ES_URL": common.es_url,
        "NEWSFLOW_INDEX_PREFIX": common.index_prefix,
        "NEWSFLOW_LOG_FORMAT": "json",
        "NEWSFLOW_FETCHER_APP_ID": f"{tag}-fetcher",
        "NEWSFLOW_CLEANER_APP_ID": f"{tag}-cleaner",
        "NEWSFLOW_DEDUP_APP_ID": f"{tag}-dedup",
        "NEWSFLOW_INDEXER_APP_ID": f"{tag}-indexer",
        # Tests poll their local sites quickly, and those sites are on loopback,
        # which the fetcher refuses unless told otherwise.
        "NEWSFLOW_FETCHER_MIN_INTERVAL_S": "1",
        "NEWSFLOW_FETCHER_ALLOW_HOSTS": "127.0.0.1",
        "NEWSFLOW_FETCHER_HOST_MIN_DELAY_S": "0",
    }
    env.update(extra)
    return env


async def setup_infra(common: CommonSettings) -> None:
    """Create this test's topics and index."""
    await apply_topics(common)
    with sync_client(common) as es:
        apply_index(es, common)


@dataclass
class Service:
    """One stage worker running as its own process, as in production."""

    stage: str
    env: dict[str, str]
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Service:
        log = open(self.log_path, "ab")  # noqa: SIM115 (the child owns it)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", f"services.{self.stage}"],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **self.env},
            cwd=REPO,
        )
        return self

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL: the worker gets no chance to commit or flush anything."""
        if self.proc and self.alive():
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.alive():
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()

    def log_tail(self, lines: int = 40) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


@dataclass
class Services:
    """The services a test started; all stopped at teardown."""

    tmp: Path
    env: dict[str, str]
    started: list[Service] = field(default_factory=list)

    def start(self, stage: str, n: int = 1, **extra: str) -> Service:
        service = Service(stage, {**self.env, **extra}, self.tmp / f"{stage}-{n}.log").start()
        self.started.append(service)
        return service

    def stop_all(self) -> None:
        for service in self.started:
            service.stop()

    def logs(self) -> str:
        return "\n\n".join(f"--- {s.stage} ---\n{s.log_tail()}" for s in self.started)


async def produce(
    common: CommonSettings, topic: str, records: Iterable[tuple[bytes | None, bytes | None]]
) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=common.kafka_bootstrap, acks="all", max_request_size=10_485_760
    )
    await producer.start()
    try:
        for key, value in records:
            await producer.send(topic, key=key, value=value)
        await producer.flush()
    finally:
        await producer.stop()


async def consume(
    common: CommonSettings,
    topic: str,
    *,
    until: Callable[[list[tuple[bytes | None, bytes | None]]], bool],
    timeout_s: float = 60.0,
) -> list[tuple[bytes | None, bytes | None]]:
    """Read ``topic`` from the beginning until ``until(records)`` holds or time runs out."""
    deadline = time.monotonic() + timeout_s
    while not await partitions_of(common.kafka_bootstrap, topic):
        if time.monotonic() > deadline:
            return []
        await asyncio.sleep(0.5)
    records = await read_topic(
        common.kafka_bootstrap,
        topic,
        until=lambda rs: until([(r.key, r.value) for r in rs]),
        timeout_s=max(deadline - time.monotonic(), 1.0),
    )
    return [(r.key, r.value) for r in records]


def wait_for(
    predicate: Callable[[], bool],
    timeout_s: float,
    interval_s: float = 0.5,
    services: Services | None = None,
) -> bool:
    """Poll ``predicate`` until it holds; give up early when a service died."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        if services is not None and not all(s.alive() for s in services.started):
            return False
        time.sleep(interval_s)
    return predicate()


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def scrape(port: int) -> str:
    """The Prometheus text a worker serves on ``port``; empty while it does not answer."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            return str(response.read().decode())
    except (urllib.error.URLError, OSError):
        return ""


def sample(text: str, name: str, **labels: str) -> float:
    """The sum of the series ``name`` with ``labels`` in Prometheus text, 0 when absent."""
    total = 0.0
    for line in text.splitlines():
        match = re.match(rf"{name}\{{(.*)\}} (\S+)$", line)
        if match and all(f'{k}="{v}"' in match.group(1) for k, v in labels.items()):
            total += float(match.group(2))
    return total
