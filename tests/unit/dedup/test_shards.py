"""Decisions spread over partitions and workers equal one process's, whatever the timing.

A simulated deployment: each partition of the shard topic is a FIFO queue
(Kafka keeps order within a partition), each worker owns some partitions
with a dict as its table, and a seeded scheduler delivers the next message
of a random partition, so messages of different partitions interleave in
every way. Workers are killed (their memory lost, their table kept, as a
changelog keeps it, and their last messages delivered again, as offsets not
yet committed are) and partitions move between workers, with the table's
records of those partitions. Every verdict must equal
:class:`~services.dedup.resolve.InMemoryDeduper`'s on the router's order.
"""

from __future__ import annotations

import random
from collections import deque
from datetime import UTC
from functools import cache
from typing import Any

import orjson
import pytest

from bench.dedup.generate import generate
from services.dedup.decide import Article, DedupConfig
from services.dedup.fingerprint import fingerprint
from services.dedup.keys import home_of
from services.dedup.resolve import InMemoryDeduper
from services.dedup.shards import Shards, pack, record_partition
from services.dedup.work import encode_work
from shared import codec

CONFIG = DedupConfig()
PARTITIONS = 6


@cache
def works() -> tuple[tuple[Article, bytes], ...]:
    """About 600 generated articles as work messages, and three redeliveries."""
    docs = generate(11, 0.5, real=False)
    out = []
    for doc in docs:
        clean = doc.clean()
        raw = codec.encode(clean)
        fp = fingerprint(clean.text, title=clean.title)
        article = Article.from_clean(clean, seen_at=doc.seen_at.astimezone(UTC))
        out.append((article, encode_work(raw, clean, doc.seen_at, fp)))
    # The same article again: from its own source (a redelivery) and another.
    out.insert(40, out[3])
    out.insert(90, (out[5][0], out[5][1].replace(b'"source":"', b'"source":"other-', 1)))
    return tuple(out)


@cache
def expected() -> list[tuple[str, str]]:
    single = InMemoryDeduper(CONFIG)
    verdicts = []
    for article, work in works():
        source = orjson.loads(work.partition(b"\n")[0])["source"]
        article = Article(
            article.id,
            article.canonical_url,
            article.title,
            article.text,
            source,
            article.seen_at,
        )
        decision = single.process(article)
        verdicts.append(
            (
                article.id,
                f"{decision.kind} {decision.story_id} {decision.duplicate_of} "
                f"{decision.similarity}",
            )
        )
    return verdicts


class Box:
    """An Outbox into the simulated topics."""

    def __init__(self, queues: list[deque[bytes]], verdicts: list[tuple[str, str]]) -> None:
        self.queues = queues
        self.verdicts = verdicts
        self.finished: list[str] = []
        self.outgoing: dict[int, list[tuple[dict[str, Any], bytes | None]]] = {}

    def send(self, partition: int, item: dict[str, Any], body: bytes | None = None) -> None:
        self.outgoing.setdefault(partition, []).append((item, body))

    def flush(self, into: list[deque[bytes]] | None = None) -> None:
        """Each step's items as messages, packed per partition (small, to
        split them over several)."""
        for partition, items in self.outgoing.items():
            (into or self.queues)[partition].extend(pack(items, limit=20_000))
        self.outgoing.clear()

    def done(self, key: str) -> None:
        self.finished.append(key)

    def unique(self, key: str, value: bytes) -> None:
        doc = orjson.loads(value)
        self.verdicts.append(
            (key, f"{doc['kind']} {doc['story_id']} {doc['duplicate_of']} {doc['similarity']}")
        )


_ABSENT = object()


class Changelog(dict[str, Any]):
    """A worker's table as its changelog keeps it: the writes since their
    partition's last commit may be lost with the worker, all but the first
    few (a changelog partition is one ordered log)."""

    def __init__(self) -> None:
        super().__init__()
        self.since: dict[int, list[tuple[str, Any]]] = {}

    def __setitem__(self, key: str, value: Any) -> None:
        self._logged(key)
        super().__setitem__(key, value)

    def __delitem__(self, key: str) -> None:
        self._logged(key)
        super().__delitem__(key)

    def pop(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        if key not in self:
            return default
        value = self[key]
        del self[key]
        return value

    def _logged(self, key: str) -> None:
        old = dict.get(self, key, _ABSENT)
        self.since.setdefault(record_partition(key, PARTITIONS), []).append((key, old))

    def commit(self, partition: int) -> None:
        self.since.pop(partition, None)

    def crash(self, partition: int, kept: int) -> None:
        """Lose the partition's writes since its last commit but the first ``kept``."""
        writes = self.since.pop(partition, [])
        for key, old in reversed(writes[kept:]):
            if old is _ABSENT:
                dict.pop(self, key, None)
            else:
                dict.__setitem__(self, key, old)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def simulate(
    seed: int, workers: int, *, kills: int = 0, moves: int = 0, lossy: bool = False
) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    clock = Clock()
    queues: list[deque[bytes]] = [deque() for _ in range(PARTITIONS)]
    verdicts: list[tuple[str, str]] = []
    box = Box(queues, verdicts)
    owner = [p % workers for p in range(PARTITIONS)]
    tables: list[Changelog] = [Changelog() for _ in range(workers)]
    nodes = [Shards(tables[w], PARTITIONS, CONFIG, clock) for w in range(workers)]
    todo = deque(enumerate(w for _, w in works()))
    router = Shards({}, PARTITIONS, CONFIG, clock)
    events = 0
    # Per partition, the messages handled since the last "commit".
    uncommitted: list[list[bytes]] = [[] for _ in range(PARTITIONS)]
    kill_at = set(rng.sample(range(200, 4000), kills))
    move_at = set(rng.sample(range(200, 4000), moves))

    def active(w: int) -> set[int]:
        return {p for p in range(PARTITIONS) if owner[p] == w}

    routed: list[deque[bytes]] = [deque() for _ in range(PARTITIONS)]
    retried = [0]
    while todo or any(queues) or any(routed) or any(n.pending for n in nodes):
        clock.now += 0.01
        events += 1
        for w, node in enumerate(nodes):
            if node.stale:
                node.rebuild(active(w), box)
                box.flush()
        if events in kill_at:
            w = rng.randrange(workers)
            nodes[w] = Shards(tables[w], PARTITIONS, CONFIG, clock)  # memory gone, table kept
            for p in active(w):
                if lossy:  # and of the table, what the changelog had not got yet
                    tables[w].crash(p, rng.randint(0, len(tables[w].since.get(p, ()))))
            for node in nodes:
                node.stale = True  # the group rebalances: every worker rebuilds
            for p in active(w):
                queues[p].extendleft(reversed(uncommitted[p]))
                uncommitted[p].clear()
            if lossy:  # the survivors too may read again what they had not committed
                for p in range(PARTITIONS):
                    if rng.random() < 0.5:
                        queues[p].extendleft(reversed(uncommitted[p]))
                        uncommitted[p].clear()
                        tables[owner[p]].commit(p)
            continue  # as Faust does, no message before the rebuild
        if events in move_at and workers > 1:
            p = rng.randrange(PARTITIONS)
            old, new = owner[p], (owner[p] + 1) % workers
            for key in [k for k in tables[old] if record_partition(k, PARTITIONS) == p]:
                tables[new][key] = orjson.loads(orjson.dumps(tables[old].pop(key)))
            tables[old].commit(p)  # a partition given up is committed
            tables[new].commit(p)
            owner[p] = new
            for node in nodes:
                node.stale = True  # the group rebalances: every worker rebuilds
            continue
        if events % 50 == 0:
            clock.now += 1.0
            for w, node in enumerate(nodes):
                retried[0] += node.retry(active(w), box)
            box.flush()
        for p in range(PARTITIONS):
            while routed[p] and rng.random() < 0.5:
                queues[p].append(routed[p].popleft())
        busy = [p for p in range(PARTITIONS) if queues[p]]
        if todo and (not busy or rng.random() < 0.3):
            s, work = todo.popleft()
            router.route(s, work, box)
            # The router's messages reach each partition in order, but late
            # at times: others' answers can overtake its work message.
            box.flush(into=routed)
            continue
        if not busy:
            clock.now += 0.5 if any(routed) else RETRY
            continue
        p = rng.choice(busy)
        message = queues[p].popleft()
        nodes[owner[p]].handle(p, message, box)
        box.flush()
        for key in box.finished:  # the verdicts were "confirmed"
            tables[owner[p]].pop(key, None)
        box.finished.clear()
        uncommitted[p].append(message)
        if rng.random() < 0.2:
            uncommitted[p].clear()
            tables[owner[p]].commit(p)
        assert events < 500_000, "no progress"
    assert retried[0] == 0, "a decision stalled until the safety net asked again"
    return verdicts


RETRY = 6.0


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_partitioned_decisions_equal_one_process(workers: int) -> None:
    got = simulate(seed=workers, workers=workers)
    assert sorted(got) == sorted(expected())


@pytest.mark.parametrize("seed", [5, 6])
def test_killed_workers_and_moved_partitions_change_no_decision(seed: int) -> None:
    got = simulate(seed=seed, workers=2, kills=8, moves=4)
    # A verdict may be sent twice (the indexer writes it once), never differently.
    assert sorted(set(got)) == sorted(set(expected()))
    assert {article_id for article_id, _ in got} == {article_id for article_id, _ in expected()}


@pytest.mark.parametrize("seed", range(20))
def test_killed_workers_lose_table_writes_not_yet_committed(seed: int) -> None:
    got = simulate(seed=seed, workers=2, kills=8, moves=4, lossy=True)
    assert {article_id for article_id, _ in got} == {article_id for article_id, _ in expected()}
    assert sorted(set(got)) == sorted(set(expected()))


def test_homes_spread_over_the_partitions() -> None:
    homes = {home_of(article.id, PARTITIONS) for article, _ in works()}
    assert homes == set(range(PARTITIONS))


def test_an_answer_before_its_work_survives_a_crash() -> None:
    """The two take different routes, so an answer can come first; the worker
    may die before the work comes, and nobody will answer again."""
    article, work = works()[0]
    router_out = Box([deque() for _ in range(PARTITIONS)], [])
    Shards({}, PARTITIONS, CONFIG).route(0, work, router_out)
    home = next(p for p, items in router_out.outgoing.items() if items[0][0]["t"] == "W")
    others = [p for p in router_out.outgoing if p != home]
    assert others, "the article's keys span several partitions"
    # The other partitions answer (one worker owns them here).
    table: dict[str, Any] = {}
    box = Box([deque() for _ in range(PARTITIONS)], [])
    shard = Shards({}, PARTITIONS, CONFIG)
    shard.rebuild(set(others), box)
    for p in others:
        for message in pack(router_out.outgoing[p]):
            shard.handle(p, message, box)
    answers = [m for m in box.outgoing.pop(home)]
    # The home takes the answers, then dies before the work comes.
    node = Shards(table, PARTITIONS, CONFIG)
    node.rebuild({home}, box)
    for message in pack(answers):
        node.handle(home, message, box)
    node = Shards(table, PARTITIONS, CONFIG)
    node.rebuild({home}, box)
    for message in pack(router_out.outgoing[home]):
        node.handle(home, message, box)
    assert node.pending == 0  # decided, on the answers kept in the table
    assert [key for key, _ in box.verdicts] == [article.id]


def test_journal_records_stay_under_the_brokers_message_size() -> None:
    """A backlog hands a worker hundreds of probes in one message; one journal
    record for all of them outgrew the broker's 1 MiB and stalled the worker."""
    table: dict[str, Any] = {}
    box = Box([deque() for _ in range(PARTITIONS)], [])
    router = Shards({}, PARTITIONS, CONFIG)
    for s, (_, work) in enumerate(works()):
        router.route(s, work, box)
    node = Shards(table, PARTITIONS, CONFIG)
    node.rebuild(set(range(PARTITIONS)), box)
    routed = dict(box.outgoing)
    box.outgoing.clear()
    for p, items in routed.items():
        for message in pack(items, limit=50 * 1024 * 1024):
            node.handle(p, message, box)
    sizes = [len(orjson.dumps(v)) for k, v in table.items() if k.startswith("j:")]
    assert sum(len(v["e"]) for k, v in table.items() if k.startswith("j:")) >= len(works())
    assert max(sizes) < 300 * 1024
