"""Faults under load: 10,000 articles through all four stages while things break.

What flows: 9,900 articles injected as ``RawArticle`` messages on news.raw
(what the fetcher would emit for pages of the generated site) plus 100 that the
fetcher fetches from a generated site of 5 feeds; injecting most of the volume
keeps the run within a few minutes on two cores, while the fetcher's part still
goes through polling, fetching and its state tables. Poison messages go onto
news.feeds, news.raw (bad JSON, binary bodies), news.clean and news.unique.

What breaks, at random moments (seeded; the seed is printed): one worker of
each stage is killed with SIGKILL and started again, the Kafka broker is
restarted once, Elasticsearch is stopped for 30 s.

What must hold afterwards: the index holds exactly the expected articles,
each once, and news.deadletter holds exactly the injected poison messages
(each failed message once; a repeat of one failure, which at-least-once
allows when a worker dies between dead-lettering and committing, is counted
and reported, not treated as a second letter).

Kafka and Elasticsearch are this module's own (other ports, own run dir):
restarting the shared test servers would break other tests.
"""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer

from bench.pipeline.site import GeneratedSite, expected_id, raw_article, sources
from newsflow.deadletter import distinct, read_letters
from newsflow.feeds import put_sources
from newsflow.status import drained, stage_specs
from shared import codec
from shared.elastic import sync_client
from shared.models import RawArticle
from shared.settings import CommonSettings
from tests.conftest import LOCAL, REPO
from tests.helpers import Services, service_env, setup_infra

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

INJECTED = 9_900
FEEDS, PER_FEED = 5, 20
INJECT_BASE = "http://inject.invalid"
_BASE = int(os.environ.get("NEWSFLOW_TEST_PORT_BASE", "19000"))
OWN_ENV = {
    "NEWSFLOW_INFRA_RUN": str(REPO / ".cache" / "fault-infra"),
    "NEWSFLOW_KAFKA_PORT": str(_BASE + 192),
    "NEWSFLOW_KAFKA_CONTROLLER_PORT": str(_BASE + 193),
    "NEWSFLOW_ES_PORT": str(_BASE + 212),
    "NEWSFLOW_ES_TRANSPORT_PORT": f"{_BASE + 610}-{_BASE + 699}",
}


class OwnInfra:
    """A Kafka and an Elasticsearch for this module alone, which it may break."""

    kafka_bootstrap = f"127.0.0.1:{OWN_ENV['NEWSFLOW_KAFKA_PORT']}"
    es_url = f"http://127.0.0.1:{OWN_ENV['NEWSFLOW_ES_PORT']}"

    def local(self, *args: str, check: bool = True) -> None:
        subprocess.run([str(LOCAL), *args], check=check, env={**os.environ, **OWN_ENV})


@pytest.fixture(scope="module")
def own_infra() -> Iterator[OwnInfra]:
    handle = OwnInfra()
    try:
        handle.local("up")
        yield handle
    finally:
        handle.local("down")
        # Its data is of no use to a later run; the disk is.
        handle.local("reset", check=False)


@pytest.fixture
async def common(own_infra: OwnInfra) -> CommonSettings:
    tag = f"faults{int(time.time())}"
    settings = CommonSettings(
        kafka_bootstrap=own_infra.kafka_bootstrap,
        es_url=own_infra.es_url,
        topic_prefix=f"{tag}.",
        index_prefix=tag,
    )
    await setup_infra(settings)
    return settings


@dataclass
class Poison:
    """The poison messages injected, by where they landed."""

    expected: set[tuple[str, str, int, int]] = field(default_factory=set)


async def _send(
    common: CommonSettings, topic: str, records: list[tuple[bytes, bytes]]
) -> list[tuple[int, int]]:
    """Produce ``records``; returns where each landed (partition, offset)."""
    producer = AIOKafkaProducer(
        bootstrap_servers=common.kafka_bootstrap,
        acks="all",
        linger_ms=20,
        max_batch_size=1 << 20,
        max_request_size=10_485_760,
    )
    await producer.start()
    try:
        futures = [await producer.send(topic, key=k, value=v) for k, v in records]
        landed = [await f for f in futures]
    finally:
        await producer.stop()
    return [(m.partition, m.offset) for m in landed]


async def _inject(common: CommonSettings) -> Poison:
    """The injected articles and every poison message."""
    topics = common.topics
    poison = Poison()
    binary = [
        RawArticle(
            **{
                **raw_article(INJECTED + 50_000 + i, INJECT_BASE).model_dump(),
                "body": "\x00\x01" * 400,
            }
        )
        for i in range(3)
    ]
    batches: list[tuple[str, str, list[tuple[bytes, bytes]]]] = [
        ("fetcher", topics.feeds, [(b"bad-source", b'{"id": "bad-source"}')]),
        ("cleaner", topics.raw, [(f"junk-{i}".encode(), b"not json %d" % i) for i in range(5)]),
        ("cleaner", topics.raw, [(a.id.encode(), codec.encode(a)) for a in binary]),
        ("dedup", topics.clean, [(f"junk-{i}".encode(), b"{}") for i in range(3)]),
        ("indexer", topics.unique, [(f"junk-{i}".encode(), b'{"kind": "?"}') for i in range(3)]),
    ]
    for stage, topic, records in batches:
        for partition, offset in await _send(common, topic, records):
            poison.expected.add((stage, topic, partition, offset))
    articles = (raw_article(n, INJECT_BASE) for n in range(INJECTED))
    await _send(common, topics.raw, [(a.id.encode(), codec.encode(a)) for a in articles])
    return poison


def _count(common: CommonSettings) -> int:
    try:
        with sync_client(common, request_timeout=10) as es:
            es.indices.refresh(index=common.read_alias)
            return int(es.count(index=common.read_alias)["count"])
    except Exception:  # Elasticsearch may be the thing that is down
        return -1


def _indexed_ids(common: CommonSettings) -> list[str]:
    from elasticsearch.helpers import scan

    with sync_client(common, request_timeout=60) as es:
        es.indices.refresh(index=common.read_alias)
        return [h["_id"] for h in scan(es, index=common.read_alias, query={}, _source=False)]


class Chaos(threading.Thread):
    """Breaks one thing after another, in a seeded random order and rhythm."""

    def __init__(self, infra: OwnInfra, services: Services, seed: int) -> None:
        super().__init__(daemon=True, name="chaos")
        self.infra = infra
        self.services = services
        self.rng = random.Random(seed)
        self.log: list[str] = []
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            faults = ["kill:fetcher", "kill:cleaner", "kill:dedup", "kill:indexer", "kafka", "es"]
            self.rng.shuffle(faults)
            for fault in faults:
                time.sleep(self.rng.uniform(3, 12))
                self._do(fault)
        except BaseException as exc:  # reported by the test, not lost in a thread
            self.error = exc

    def _do(self, fault: str) -> None:
        started = time.monotonic()
        if fault.startswith("kill:"):
            stage = fault.split(":")[1]
            victim = self.rng.choice([s for s in self.services.started if s.stage == stage])
            victim.kill()
            time.sleep(self.rng.uniform(0.5, 3))
            victim.start()
        elif fault == "kafka":
            self.infra.local("down", "kafka")
            self.infra.local("up", "kafka")
        else:
            self.infra.local("down", "es")
            time.sleep(30)
            self.infra.local("up", "es")
        self.log.append(f"{fault} ({time.monotonic() - started:.0f} s)")


def _settled(common: CommonSettings, expected: int) -> bool:
    apps = {s: f"{common.index_prefix}-{s}" for s in ("cleaner", "dedup", "indexer")}
    try:
        idle = asyncio.run(drained(common, stage_specs(common, apps))).drained
    except Exception:  # Kafka may be the thing that is down
        return False
    return idle and _count(common) >= expected


def test_faults_lose_nothing_and_duplicate_nothing(
    own_infra: OwnInfra, common: CommonSettings, tmp_path: Path
) -> None:
    seed = int(os.environ.get("NEWSFLOW_FAULT_SEED", random.randrange(1 << 30)))
    print(f"fault seed: {seed} (NEWSFLOW_FAULT_SEED={seed} repeats this run)")
    site = GeneratedSite(FEEDS, PER_FEED, offset=1_000_000)
    site.start_in_thread()
    env = service_env(
        common,
        NEWSFLOW_FETCHER_ALLOW_HOSTS="127.0.0.1",
        NEWSFLOW_FETCHER_HOST_MIN_DELAY_S="0",
        NEWSFLOW_FETCHER_HOST_CONCURRENCY="8",
        NEWSFLOW_FETCHER_SESSION_TIMEOUT_S="10",
        # Workers of one stage share this host: any free metrics port.
        NEWSFLOW_FETCHER_METRICS_PORT="0",
        NEWSFLOW_CLEANER_METRICS_PORT="0",
        NEWSFLOW_DEDUP_METRICS_PORT="0",
        NEWSFLOW_INDEXER_METRICS_PORT="0",
    )
    services = Services(tmp_path, env)
    try:
        poison = asyncio.run(_inject(common))
        asyncio.run(put_sources(common, sources(site.base_url, FEEDS, interval_s=5)))
        for stage, count in (("fetcher", 1), ("cleaner", 2), ("dedup", 1), ("indexer", 1)):
            for n in range(1, count + 1):
                services.start(stage, n)
        started = time.monotonic()
        chaos = Chaos(own_infra, services, seed)
        chaos.start()
        chaos.join(timeout=420)
        assert chaos.error is None, chaos.error
        assert not chaos.is_alive(), f"faults did not finish: {chaos.log}"

        expected = {expected_id(n, INJECT_BASE) for n in range(INJECTED)}
        expected |= {expected_id(n, site.base_url) for n in site.numbers()}
        deadline = time.monotonic() + 300
        while not _settled(common, len(expected)) and time.monotonic() < deadline:
            if not all(s.alive() for s in services.started):
                break
            time.sleep(2)
        took = time.monotonic() - started
        print(f"faults: {chaos.log}; settled after {took:.0f} s")
        assert all(s.alive() for s in services.started), services.logs()

        ids = _indexed_ids(common)
        assert len(ids) == len(set(ids))
        missing, extra = expected - set(ids), set(ids) - expected
        assert not missing and not extra, (len(missing), len(extra), sorted(missing)[:5])

        letters = asyncio.run(read_letters(common))
        once = distinct(letters)
        got = {(e.letter.stage, e.letter.topic, e.letter.partition, e.letter.offset) for e in once}
        assert got == poison.expected, (got ^ poison.expected, [e.letter.error for e in once])
        print(f"{len(letters)} dead letters, {len(letters) - len(once)} repeats of one failure")
    finally:
        services.stop_all()
        site.shutdown()
