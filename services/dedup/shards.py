"""Dedup's decisions spread over partitions: the messages between them and each one's state.

One order, many owners. Articles are numbered by their offset ``s`` on the
one-partition order topic (the *router* reads it); everything else is
partitioned by key over the shard topic and the table that shares its
partitions (:func:`~services.dedup.keys.partition_of`):

1. The router sends the article's *work* (``W``: its fingerprint and bytes)
   to its home partition (:func:`~services.dedup.keys.home_of`) and a
   *probe* (``P``) to every other partition owning some of its keys. It
   sends to each partition in ``s`` order, so each partition probes its keys
   in the one order.
2. Each partition answers (``A``) the home from its :class:`KeyIndex`: who
   was seen before ``s`` under those keys. It journals the probe in the
   table (``j:<partition>:<s>``), from which the index is rebuilt after a
   recovery.
3. The home, with every answer in, runs :func:`~services.dedup.resolve.plan`
   and asks (``Q``) the homes of the earlier articles it needs for their
   records (``a:<id>``). A home answers (``R``) at once, or as soon as that
   article is decided: it came earlier, so its decision never waits on this
   one.
4. With every record in, :func:`~services.dedup.resolve.conclude` decides;
   the home writes the article's record, forwards the verdict to
   ``news.unique`` and answers whoever asked after the article meanwhile.

So each partition holds only its keys and its articles' records, any worker
can own any partition, and N workers decide exactly as one
(:class:`~services.dedup.resolve.InMemoryDeduper` over the same order).

Nothing is lost on a crash or a rebalance: the work waits in the table
(``w:<id>:<s>``) until decided, probes are journaled, and what lives only in
memory (answers and records gathered so far, questions waiting for an
answer) is asked for again: after a recovery at once, otherwise when a
pending decision has made no progress for a while (:meth:`Shards.retry`).
Every step can run twice: a probe answers the same for the same ``s``,
a work message already decided or pending is ignored, and a verdict sent
twice carries the same article id (the indexer writes it once).
"""

from __future__ import annotations

import base64
import logging
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import orjson

from services.dedup.decide import DedupConfig
from services.dedup.keys import (
    URL,
    KeyIndex,
    Probe,
    article_keys,
    home_of,
    line_key,
    partition_of,
)
from services.dedup.resolve import Plan, brief, conclude, plan, record_key
from services.dedup.work import Work, decode_work, unique_bytes
from shared.exceptions import PoisonMessage

__all__ = ["Outbox", "Records", "Shards", "pack", "record_partition", "route_keys", "unpack"]

log = logging.getLogger(__name__)

# Answers and questions in memory are lost only with a worker: when one dies
# or gives up partitions, which is a rebalance, after which every worker
# rebuilds and asks again for all its pending decisions miss (answers that
# came before their work are kept in the table). So retries are only a
# safety net, for a decision stalled far longer than any backlog explains:
# asking again costs messages, and a busy pipeline must not be flooded with
# questions it is about to answer anyway. Doubled after each retry.
RETRY_AFTER_S = 600.0
MAX_BACKOFF = 4
# A worker with decisions under way that has handled no shard message for
# this long is not waiting on a backlog: what they miss is not coming (a
# message lost with a worker), so they ask again without waiting RETRY_AFTER_S.
IDLE_RETRY_S = 20.0
# Size a shard message is kept under (the broker's default limit is 1 MiB).
MESSAGE_BYTES = 512 * 1024
# Size a journal record is kept under: a changelog message over the broker's
# limit is refused, and Faust's changelog sender then stalls every agent.
JOURNAL_BYTES = 256 * 1024


class Records(Protocol):
    """The table: a dict and a Faust Table both qualify."""

    def get(self, key: str, /) -> Any: ...

    def __setitem__(self, key: str, value: Any, /) -> None: ...

    def __delitem__(self, key: str, /) -> None: ...

    def items(self) -> Iterable[tuple[str, Any]]: ...


class Outbox(Protocol):
    """Where :class:`Shards` sends messages."""

    def send(self, partition: int, item: dict[str, Any], body: bytes | None = None) -> None:
        """An item for the shard topic's ``partition`` (see :func:`pack`)."""

    def unique(self, key: str, value: bytes) -> None:
        """A verdict on ``news.unique``."""

    def done(self, key: str) -> None:
        """Delete the table's ``key`` once everything sent so far is confirmed
        (so a crash in between leaves the work to be decided again)."""


def route_keys(header: dict[str, Any]) -> list[str]:
    """The keys of the article in a work message's header (see :mod:`.work`),
    as :func:`~services.dedup.keys.article_keys` gives them, without decoding
    the fingerprint."""
    fp = header["fp"]
    keys = [f"{URL}{header['id']}"]
    if fp["key"] is not None:
        keys.append(f"text:{fp['key']}")
    keys.extend(dict.fromkeys(fp["bands"]))
    lines = np.frombuffer(base64.b64decode(fp.get("ln", "")), dtype="<u8").tolist()
    keys.extend(line_key(line) for line in dict.fromkeys(lines) if line != 0)
    return keys


@dataclass
class Pending:
    """An article's decision under way at its home."""

    work: Work
    s: int
    partition: int
    waiting: set[int]
    answer: dict[str, Any] = field(default_factory=dict)
    steps: Plan | None = None
    records: dict[str, Any] = field(default_factory=dict)
    missing: dict[str, bool] = field(default_factory=dict)
    touched: float = 0.0
    retries: int = 0

    @property
    def key(self) -> tuple[str, int]:
        return self.work.article.id, self.s


class Shards:
    """The state and message handling of the shard partitions one worker owns.

    :meth:`route` is the router's step; :meth:`handle` takes one message of a
    shard partition and must run with that message as Faust's current event
    (its table writes go to that partition's changelog). :meth:`rebuild`
    derives the in-memory state from the table after a recovery.
    """

    def __init__(
        self,
        table: Records,
        partitions: int,
        config: DedupConfig,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._table = table
        self._partitions = partitions
        self._config = config
        self._clock = clock
        self.index = KeyIndex(config)
        self._pending: dict[tuple[str, int], Pending] = {}
        self._pending_ids: Counter[str] = Counter()
        self._early: dict[tuple[str, int], list[tuple[float, int, dict[str, Any]]]] = {}
        # Article id → {(asker id, asker s): (asker home, in full)} waiting for its record.
        self._parked: dict[str, dict[tuple[str, int], tuple[int, bool]]] = defaultdict(dict)
        # Partition → the highest s the router's messages reached there.
        self._seen: dict[int, int] = {}
        # (partition, s) → the journaled probe; and those of the message in hand.
        self._journaled: dict[tuple[int, int], dict[str, Any]] = {}
        self._journal: list[dict[str, Any]] = []
        # Partition → journal entries made by a rebuild, written with its next message.
        self._unwritten: dict[int, list[dict[str, Any]]] = {}
        self.stale = True
        self.decided = 0
        self._handled_at = clock()

    # --- the router ------------------------------------------------------------

    def route(self, s: int, work: bytes, out: Outbox) -> None:
        """Send the article whose work message is ``work`` (number ``s``) on its way."""
        head = work.partition(b"\n")[0]
        try:
            header = orjson.loads(head)
            article_id = str(header["id"])
            keys = route_keys(header)
            meta = {"id": article_id, "ts": float(header["seen"]), "src": str(header["source"])}
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise PoisonMessage("invalid-message", f"bad work message: {exc!r}") from exc
        home = home_of(article_id, self._partitions)
        owned: dict[int, list[str]] = defaultdict(list)
        for key in keys:
            owned[partition_of(key, self._partitions)].append(key)
        others = sorted(p for p in owned if p != home)
        out.send(home, {"t": "W", "s": s, "k": owned.get(home, []), "o": others}, work)
        for p in others:
            out.send(p, {"t": "P", "s": s, "k": owned[p], "h": home, **meta})

    # --- one shard message ------------------------------------------------------

    def handle(self, partition: int, value: bytes, out: Outbox) -> None:
        """Handle one message of ``partition``: its items, in order (see the
        module doc for their kinds). An item that cannot be read is logged and
        skipped; the message's others are still handled."""
        items = unpack(value)
        self._handled_at = self._clock()
        self._journal = self._unwritten.pop(partition, [])
        for item, body in items:
            try:
                self._item(partition, item, body, out)
            except (PoisonMessage, KeyError, TypeError, ValueError) as exc:
                log.error(
                    "dedup: shard item skipped",
                    extra={"partition": partition, "kind": item.get("t"), "error": repr(exc)},
                )
        entries, self._journal = self._journal, []
        for chunk in _chunks(entries, JOURNAL_BYTES):
            ts = max(float(entry["ts"]) for entry in chunk)
            self._table[_journal_key(partition, int(chunk[0]["s"]))] = {"ts": ts, "e": chunk}

    def _item(self, partition: int, msg: dict[str, Any], body: bytes | None, out: Outbox) -> None:
        kind = msg["t"]
        if kind == "W":
            if body is None:
                raise PoisonMessage("invalid-message", "work item without its work")
            self._work(partition, msg, body, out)
        elif kind == "P":
            self._probe(partition, msg, out)
        elif kind == "A":
            self._answered(msg, out)
        elif kind == "Q":
            self._asked(partition, msg, out)
        elif kind == "R":
            self._replied(msg, out)
        elif kind == "N":
            pending = self._pending.get((str(msg["id"]), int(msg["s"])))
            if pending is not None:
                self._advance(pending, out)
        else:
            raise PoisonMessage("invalid-message", f"unknown shard item kind {kind!r}")

    def _work(self, partition: int, msg: dict[str, Any], data: bytes, out: Outbox) -> None:
        s = int(msg["s"])
        work = decode_work(data)
        article_id = work.article.id
        if (article_id, s) in self._pending or _is_decided(
            self._table.get(record_key(article_id)), s
        ):
            return
        self._table[_work_key(article_id, s)] = {"s": s, "o": msg["o"], "w": data.decode("utf-8")}
        answer = self._probe_keys(
            partition, article_id, s, work.article.seen_s, work.article.source, msg["k"]
        )
        pending = Pending(work, s, partition, set(msg["o"]), answer, touched=self._clock())
        self._add(pending)
        for _, source, early in self._early.pop(pending.key, ()):
            if self._table.get(_early_key(article_id, s, source)) is not None:
                del self._table[_early_key(article_id, s, source)]
            if source in pending.waiting:
                pending.waiting.discard(source)
                pending.answer.update(early)
        self._advance(pending, out)

    def _probe(self, partition: int, msg: dict[str, Any], out: Outbox) -> None:
        s = int(msg["s"])
        if msg.get("q") and self._seen.get(partition, -1) < s:
            return  # asked again before the probe itself came: it will answer
        answer = self._probe_keys(partition, msg["id"], s, float(msg["ts"]), msg["src"], msg["k"])
        reply = {"t": "A", "s": s, "id": msg["id"], "f": partition, "ts": msg["ts"], "a": answer}
        out.send(int(msg["h"]), reply)

    def _probe_keys(
        self, partition: int, article_id: str, s: int, ts: float, source: str, keys: list[str]
    ) -> dict[str, Any]:
        """Probe ``keys`` for article ``s``, once: the answer is journaled with
        the probe, and a probe asked again gets the journaled answer (the
        keys' entries may have moved on since, the answer must not)."""
        known = self._journaled.get((partition, s))
        if known is not None and known["id"] == article_id:
            answer: dict[str, Any] = known["a"]
            return answer
        answer = self.index.probe(Probe(article_id, s, ts, source, tuple(keys)))
        self._seen[partition] = max(self._seen.get(partition, -1), s)
        entry = {"s": s, "id": article_id, "ts": ts, "src": source, "k": keys, "a": answer}
        self._journaled[partition, s] = entry
        self._journal.append(entry)
        return answer

    def _answered(self, msg: dict[str, Any], out: Outbox) -> None:
        key = (str(msg["id"]), int(msg["s"]))
        source = int(msg["f"])
        pending = self._pending.get(key)
        if pending is None:
            if _is_decided(self._table.get(record_key(key[0])), key[1]):
                return  # asked again after all: decided already
            # Came before its work (the two take different routes): kept in
            # the table too, as it is not asked for again after a crash.
            self._table[_early_key(key[0], key[1], source)] = {"ts": msg["ts"], "a": msg["a"]}
            self._early.setdefault(key, []).append((self._clock(), source, msg["a"]))
            return
        if source in pending.waiting:
            pending.waiting.discard(source)
            pending.answer.update(msg["a"])
            self._advance(pending, out)

    def _asked(self, partition: int, msg: dict[str, Any], out: Outbox) -> None:
        asker, s, home = str(msg["id"]), int(msg["s"]), int(msg["h"])
        found: dict[str, Any] = {}
        for article_id, full in msg["n"].items():
            record = self._table.get(record_key(article_id))
            if record is not None:
                found[article_id] = record if full else brief(record)
            elif self._underway(partition, article_id, s):
                self._parked[article_id][asker, s] = (home, bool(full))
            else:
                found[article_id] = None
        if found:
            out.send(home, {"t": "R", "s": s, "id": asker, "r": found})

    def _underway(self, partition: int, article_id: str, s: int) -> bool:
        """Whether the record of an article before ``s`` is still to come:
        its decision is pending here, or its work may not have arrived yet."""
        if self._pending_ids[article_id]:
            return True
        return self._seen.get(partition, -1) < s

    def _replied(self, msg: dict[str, Any], out: Outbox) -> None:
        pending = self._pending.get((str(msg["id"]), int(msg["s"])))
        if pending is None:
            return
        for article_id, record in msg["r"].items():
            if article_id in pending.missing:
                del pending.missing[article_id]
                pending.records[article_id] = record
        self._advance(pending, out)

    # --- an article's decision ---------------------------------------------------

    def _advance(self, pending: Pending, out: Outbox) -> None:
        """Take ``pending`` as far as what it has allows."""
        pending.touched, pending.retries = self._clock(), 0
        if pending.waiting:
            return
        article, fp = pending.work.article, pending.work.fingerprint
        if pending.steps is None:
            pending.steps = plan(article, fp, pending.answer, self._config)
            for article_id, full in pending.steps.needs.items():
                record = self._local(pending.partition, article_id)
                if record is None:
                    pending.missing[article_id] = full
                else:
                    pending.records[article_id] = record
            self._ask(pending, out)
        if pending.missing:
            return
        decision, record = conclude(
            article, fp, pending.s, pending.steps, pending.records, self._config
        )
        article_id = article.id
        if record is not None:
            self._table[record_key(article_id)] = record
        self._remove(pending.key)
        out.unique(article_id, unique_bytes(decision, pending.work.article_bytes))
        out.done(_work_key(article_id, pending.s))
        self.decided += 1
        self._release(article_id, out)

    def _local(self, partition: int, article_id: str) -> Any:
        """The record of ``article_id`` if this partition holds it."""
        if home_of(article_id, self._partitions) != partition:
            return None
        return self._table.get(record_key(article_id))

    def _ask(self, pending: Pending, out: Outbox) -> None:
        by_home: dict[int, dict[str, bool]] = defaultdict(dict)
        for article_id, full in pending.missing.items():
            by_home[home_of(article_id, self._partitions)][article_id] = full
        article_id = pending.work.article.id
        for home, wanted in by_home.items():
            ask = {"t": "Q", "s": pending.s, "id": article_id, "h": pending.partition, "n": wanted}
            out.send(home, ask)

    def _release(self, article_id: str, out: Outbox) -> None:
        """Answer those who asked after ``article_id`` before its record existed."""
        waiting = self._parked.pop(article_id, None)
        if not waiting:
            return
        record = self._table.get(record_key(article_id))
        for (asker, s), (home, full) in waiting.items():
            if record is None and self._pending_ids[article_id]:
                # The first occurrence is still under way.
                self._parked[article_id][asker, s] = (home, full)
                continue
            value = None if record is None else (record if full else brief(record))
            out.send(home, {"t": "R", "s": s, "id": asker, "r": {article_id: value}})

    # --- recovery, retries and expiry --------------------------------------------

    def rebuild(self, active: set[int], out: Outbox) -> None:
        """Derive the in-memory state of the ``active`` partitions from the
        table, and ask again for what pending decisions were waiting for."""
        self.index.clear()
        self._pending.clear()
        self._pending_ids.clear()
        self._parked.clear()
        self._seen.clear()
        self._journaled.clear()
        self._unwritten.clear()
        self._early.clear()
        journals: list[tuple[int, int, dict[str, Any]]] = []
        works: list[tuple[str, int, int, dict[str, Any]]] = []
        for key, value in list(self._table.items()):
            try:
                if key.startswith("j:"):
                    _, part, seq = key.split(":")
                    if int(part) in active:
                        journals.append((int(seq), int(part), value))
                elif key.startswith("w:"):
                    article_id, seq = key[2:].rsplit(":", 1)
                    home = home_of(article_id, self._partitions)
                    if home in active:
                        works.append((article_id, int(seq), home, value))
                elif key.startswith("e:"):
                    article_id, seq, source = key[2:].rsplit(":", 2)
                    if home_of(article_id, self._partitions) in active:
                        early = (self._clock(), int(source), value["a"])
                        self._early.setdefault((article_id, int(seq)), []).append(early)
            except (TypeError, ValueError):
                log.warning("dedup state: unreadable record", extra={"record": key})
        entries: list[tuple[int, int, dict[str, Any]]] = []
        for first, p, journal in journals:
            try:
                entries.extend((int(entry["s"]), p, entry) for entry in journal["e"])
            except (KeyError, TypeError, ValueError):
                log.warning("dedup state: unreadable journal", extra={"s": first, "partition": p})
        probed = {(p, s): entry.get("id") for s, p, entry in entries}
        works_to_do: list[tuple[Work, int, int, set[int]]] = []
        for article_id, s, p, value in works:
            try:
                work = decode_work(str(value["w"]).encode("utf-8"))
                others = {int(o) for o in value["o"]}
            except (PoisonMessage, KeyError, TypeError, ValueError):
                log.warning("dedup state: unreadable work", extra={"article_id": article_id})
                continue
            works_to_do.append((work, s, p, others))
            if probed.get((p, s)) != article_id:
                # Its home's probe has no journal (lost in a crash, or never
                # written: the work was read again while still pending). It is
                # probed again in its place in the order below, so it sees the
                # index as it was then: entries of later articles would have
                # pushed earlier ones out of capped keys.
                entries.append((s, p, _redo(work, s, p, self._partitions)))
        entries.sort(key=lambda entry: entry[0])
        for s, p, entry in entries:
            try:
                keys = tuple(entry["k"])
                probe = Probe(entry["id"], s, float(entry["ts"]), entry["src"], keys)
                answer = self.index.probe(probe)
            except (KeyError, TypeError, ValueError):
                log.warning("dedup state: unreadable journal entry", extra={"s": s, "partition": p})
                continue
            if "a" not in entry:
                entry["a"] = answer
                self._unwritten.setdefault(p, []).append(entry)
            self._journaled[p, s] = entry
            self._seen[p] = max(self._seen.get(p, -1), s)
        now = self._clock()
        for work, s, p, others in sorted(works_to_do, key=lambda item: item[1]):
            probed_entry = self._journaled.get((p, s))
            if probed_entry is not None:
                self._add(Pending(work, s, p, others, dict(probed_entry["a"]), touched=now))
        self.stale = False
        log.info(
            "dedup state rebuilt",
            extra={
                "partitions": sorted(active),
                "journals": len(journals),
                "pending": len(self._pending),
            },
        )
        for pending in list(self._pending.values()):
            if pending.waiting:
                self._requery(pending, out)
            else:
                # Nothing to wait for: carry on in the partition's own stream
                # (a decision writes the table, which needs the partition's event).
                nudge = {"t": "N", "s": pending.s, "id": pending.work.article.id}
                out.send(pending.partition, nudge)

    def retry(self, active: set[int], out: Outbox) -> int:
        """Ask again for what long stalled decisions miss (see RETRY_AFTER_S);
        drop state of partitions given up. Returns how many asked again."""
        now = self._clock()
        for key in [k for k, p in self._pending.items() if p.partition not in active]:
            self._remove(key)
        after = IDLE_RETRY_S if now - self._handled_at > IDLE_RETRY_S else RETRY_AFTER_S
        stalled = [
            p
            for p in self._pending.values()
            if now - p.touched > after * 2 ** min(p.retries, MAX_BACKOFF)
        ]
        if stalled:
            log.warning(
                "dedup: decisions stalled, asking again",
                extra={
                    "stalled": len(stalled),
                    "pending": len(self._pending),
                    "idle_s": round(now - self._handled_at, 1),
                    "parked": sum(len(asks) for asks in self._parked.values()),
                    "first": [_stuck(p) for p in sorted(stalled, key=lambda p: p.s)[:5]],
                },
            )
        for pending in stalled:
            pending.touched = now
            pending.retries += 1
            self._requery(pending, out)
            if pending.missing:
                self._ask(pending, out)
        return len(stalled)

    def _requery(self, pending: Pending, out: Outbox) -> None:
        work = pending.work
        article = work.article
        if not pending.waiting:
            return
        keys = article_keys(article.id, work.fingerprint)
        owned: dict[int, list[str]] = defaultdict(list)
        for key in keys:
            owned[partition_of(key, self._partitions)].append(key)
        for p in pending.waiting:
            ask = {
                "t": "P",
                "q": True,
                "s": pending.s,
                "id": article.id,
                "ts": article.seen_s,
                "src": article.source,
                "k": owned.get(p, []),
                "h": pending.partition,
            }
            out.send(p, ask)

    def sweep(self, partition: int, now: float) -> int:
        """Delete ``partition``'s records and journals older than the window;
        returns how many. Must run with an event of ``partition`` current."""
        cutoff = now - self._config.window_s
        stale = [
            (key, value)
            for key, value in list(self._table.items())
            if key[:2] in ("j:", "a:", "e:")
            and record_partition(key, self._partitions) == partition
            and float(value.get("ts", 0)) < cutoff
        ]
        for key, value in stale:
            if key.startswith("j:"):
                for entry in value.get("e", ()):
                    self._journaled.pop((partition, int(entry["s"])), None)
            elif key.startswith("e:"):
                article_id, seq, _ = key[2:].rsplit(":", 2)
                self._early.pop((article_id, int(seq)), None)
            del self._table[key]
        self.index.expire(now)
        return len(stale)

    def _add(self, pending: Pending) -> None:
        self._pending[pending.key] = pending
        self._pending_ids[pending.key[0]] += 1

    def _remove(self, key: tuple[str, int]) -> None:
        if self._pending.pop(key, None) is not None:
            self._pending_ids[key[0]] -= 1
            if not self._pending_ids[key[0]]:
                del self._pending_ids[key[0]]

    @property
    def pending(self) -> int:
        """Decisions under way at this worker."""
        return len(self._pending)


def record_partition(key: str, partitions: int) -> int:
    """The partition a table key belongs to (its changelog partition)."""
    if key.startswith("j:"):
        return int(key.split(":", 2)[1])
    if key.startswith("w:"):
        return home_of(key[2:].rsplit(":", 1)[0], partitions)
    if key.startswith("a:"):
        return home_of(key[2:], partitions)
    if key.startswith("e:"):
        return home_of(key[2:].rsplit(":", 2)[0], partitions)
    raise ValueError(f"not a dedup table key: {key!r}")


def _redo(work: Work, s: int, partition: int, partitions: int) -> dict[str, Any]:
    """The journal entry of a home's probe to make again (no answer yet)."""
    article = work.article
    keys = [
        key
        for key in article_keys(article.id, work.fingerprint)
        if partition_of(key, partitions) == partition
    ]
    return {"s": s, "id": article.id, "ts": article.seen_s, "src": article.source, "k": keys}


def _stuck(pending: Pending) -> dict[str, Any]:
    """What a stalled decision waits for, for the log."""
    return {
        "id": pending.work.article.id,
        "s": pending.s,
        "home": pending.partition,
        "waiting": sorted(pending.waiting),
        "missing": sorted(pending.missing),
        "retries": pending.retries,
    }


def _is_decided(record: Any, s: int) -> bool:
    return isinstance(record, dict) and record.get("s") == s


def _work_key(article_id: str, s: int) -> str:
    return f"w:{article_id}:{s}"


def _chunks(entries: list[dict[str, Any]], limit: int) -> list[list[dict[str, Any]]]:
    """``entries`` in runs of about ``limit`` bytes of JSON at most (one entry
    per run when it alone is larger)."""
    chunks: list[list[dict[str, Any]]] = []
    size = limit
    for entry in entries:
        grown = len(orjson.dumps(entry))
        if size + grown > limit:
            chunks.append([])
            size = 0
        chunks[-1].append(entry)
        size += grown
    return chunks


def _early_key(article_id: str, s: int, source: int) -> str:
    return f"e:{article_id}:{s}:{source}"


def _journal_key(partition: int, s: int) -> str:
    return f"j:{partition}:{s}"


def pack(
    items: Sequence[tuple[dict[str, Any], bytes | None]], limit: int = MESSAGE_BYTES
) -> list[bytes]:
    """``items`` for one partition as messages of about ``limit`` bytes at most
    (an item larger than that gets a message of its own): a JSON line with the
    items and their bodies' lengths, then the bodies."""
    messages: list[bytes] = []
    metas: list[dict[str, Any]] = []
    bodies: list[bytes] = []
    size = 0

    def close() -> None:
        lengths = [len(body) if body else -1 for body in bodies]
        head = orjson.dumps({"i": metas, "n": lengths})
        messages.append(head + b"\n" + b"".join(body or b"" for body in bodies))

    for item, body in items:
        grown = len(orjson.dumps(item)) + (len(body) if body else 0)
        if metas and size + grown > limit:
            close()
            metas, bodies, size = [], [], 0
        metas.append(item)
        bodies.append(body or b"")
        size += grown
    if metas:
        close()
    return messages


def unpack(value: bytes | None) -> list[tuple[dict[str, Any], bytes | None]]:
    """The items of a message that :func:`pack` wrote."""
    if not value:
        raise PoisonMessage("invalid-message", "empty shard message")
    head, _, rest = value.partition(b"\n")
    try:
        meta = orjson.loads(head)
        metas, lengths = meta["i"], meta["n"]
        if len(metas) != len(lengths):
            raise ValueError("as many lengths as items")
        items: list[tuple[dict[str, Any], bytes | None]] = []
        at = 0
        for item, length in zip(metas, lengths, strict=True):
            if length < 0:
                items.append((item, None))
                continue
            items.append((item, rest[at : at + length]))
            at += length
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise PoisonMessage("invalid-message", f"bad shard message: {exc!r}") from exc
    return items
