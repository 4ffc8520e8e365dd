"""The keyed half of a dedup decision: who was seen before under each of an article's keys.

Every article has keys (:func:`article_keys`): ``url:<id>``, ``text:<exact
key>``, the ``band:``/``lead:`` LSH buckets of its fingerprint and a
``line:<hash>`` per paragraph. Each key is owned by one partition
(:func:`partition_of`), and a *probe* at an article's sequence number ``s``
(its place in the one order in which dedup decides) reads what the key holds
of articles before ``s`` and then records the article there.

What a probe answers depends only on articles with a smaller ``s``: entries
carry their ``s`` and are kept in ``s`` order. So the answer for ``s`` is the
same whenever it is asked, as long as every probe before ``s`` on that
partition has run, and probes of different partitions need no coordination:
the dedup service runs them on whichever worker owns each partition, the
offline command runs them in one process (:class:`KeyIndex` both times).

Entries per key, each ``[x, s, ts]`` (``ts``: the article's ``seen_at`` in
epoch seconds; entries older than the window are ignored and dropped):

- ``url:`` an occurrence of the article id, ``x`` its source;
- ``text:`` the first live article with that folded text, ``x`` its id;
- ``band:``, ``lead:``, ``line:`` the newest articles with that bucket or
  paragraph, ``x`` their ids, one entry per id.
"""

from __future__ import annotations

import bisect
import zlib
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from services.dedup.decide import DedupConfig
from services.dedup.fingerprint import Fingerprint

__all__ = [
    "KeyIndex",
    "Probe",
    "article_keys",
    "home_of",
    "line_key",
    "partition_of",
]

URL = "url:"
TEXT = "text:"
LINE = "line:"
# Entries kept per key beyond those an answer gives: a probe asked again
# (a redelivery) must still find the entries that were there the first time,
# even if newer articles have arrived since.
SLACK = 2


def line_key(line: int) -> str:
    """The key of a paragraph hash (``Fingerprint.lines``)."""
    return f"{LINE}{line:016x}"


def article_keys(article_id: str, fp: Fingerprint) -> list[str]:
    """Every key an article is probed and recorded under, each once."""
    keys = [f"{URL}{article_id}"]
    if fp.exact_key is not None:
        keys.append(f"{TEXT}{fp.exact_key}")
    keys.extend(dict.fromkeys(fp.bands))
    keys.extend(line_key(line) for line in dict.fromkeys(fp.lines.tolist()) if line != 0)
    return keys


def partition_of(key: str, partitions: int) -> int:
    """The partition that owns ``key``: stable across processes and versions."""
    return zlib.crc32(key.encode("utf-8")) % partitions


def home_of(article_id: str, partitions: int) -> int:
    """The article's own partition: where its ``url:`` key, its pending work
    and its decision record live."""
    return partition_of(f"{URL}{article_id}", partitions)


@dataclass(frozen=True, slots=True)
class Probe:
    """An article asking after some of its keys, at sequence number ``s``."""

    id: str
    s: int
    ts: float
    source: str
    keys: tuple[str, ...]


class KeyIndex:
    """The entries of the keys of some partitions, in memory.

    :meth:`probe` is the only read and write; :meth:`expire` forgets what
    fell out of the window. The service rebuilds an index after a recovery
    by probing again, in ``s`` order, with the probes journaled in its table.
    """

    def __init__(self, config: DedupConfig) -> None:
        self._config = config
        self._entries: dict[str, list[list[Any]]] = {}
        # (time, keys) of each probe, oldest first: where expired entries are.
        self._probes: deque[tuple[float, tuple[str, ...]]] = deque()
        self._caps = {
            "band:": config.bucket_cap,
            "lead:": config.bucket_cap,
            LINE: config.line_entries,
        }

    def probe(self, probe: Probe) -> dict[str, Any]:
        """What each of ``probe.keys`` held before ``probe.s``, then record the article.

        The answer maps each key to: for ``url:``, ``[source, s]`` of the
        article's first live occurrence, or None; for ``text:``, the id of the
        first live article with that text other than this one, or None; for a
        bucket or line, the ids of its live members other than this article,
        oldest first (the newest ``bucket_cap`` or ``line_entries``).
        """
        answer: dict[str, Any] = {}
        oldest = probe.ts - self._config.window_s
        for key in probe.keys:
            entries = self._entries.get(key)
            if entries is None:
                entries = self._entries[key] = []
            before = entries[: bisect.bisect_left(entries, probe.s, key=_seq)]
            if key.startswith(URL):
                first = next((e for e in before if e[2] >= oldest), None)
                answer[key] = None if first is None else [first[0], first[1]]
                _record(entries, [probe.source, probe.s, probe.ts], oldest, same=_seq, cap=16)
            elif key.startswith(TEXT):
                owner = next((e for e in before if e[2] >= oldest), None)
                answer[key] = None if owner is None or owner[0] == probe.id else owner[0]
                if not any(e[2] >= oldest for e in entries):
                    entries[:] = [[probe.id, probe.s, probe.ts]]
            else:
                cap = self._caps[key[: key.index(":") + 1]]
                if key.startswith(LINE):
                    # Site chrome is told from articles decided a while ago
                    # (see DedupConfig.chrome_lag), not from the newest.
                    settled = probe.s - self._config.chrome_lag
                    before = before[: bisect.bisect_left(before, settled, key=_seq)]
                live = [e[0] for e in before if e[2] >= oldest and e[0] != probe.id]
                answer[key] = live[-cap:]
                _record(entries, [probe.id, probe.s, probe.ts], oldest, same=_id, cap=SLACK * cap)
        self._probes.append((probe.ts, probe.keys))
        return answer

    def expire(self, now: float) -> int:
        """Drop entries older than the window before ``now``; returns the keys
        emptied. Visits only the keys of probes that fell out of the window."""
        oldest = now - self._config.window_s
        gone = 0
        while self._probes and self._probes[0][0] < oldest:
            _, keys = self._probes.popleft()
            for key in keys:
                entries = self._entries.get(key)
                if entries is not None and _prune(entries, oldest):
                    del self._entries[key]
                    gone += 1
        return gone

    def clear(self, keys: Iterable[str] | None = None) -> None:
        """Forget ``keys`` (all keys when None), before a rebuild."""
        if keys is None:
            self._entries.clear()
            self._probes.clear()
            return
        for key in keys:
            self._entries.pop(key, None)

    def items(self) -> Iterator[tuple[str, list[list[Any]]]]:
        """The keys and their entries (for tests and inspection)."""
        return iter(self._entries.items())

    def __len__(self) -> int:
        return len(self._entries)


def _seq(entry: list[Any]) -> int:
    return int(entry[1])


def _id(entry: list[Any]) -> Any:
    return entry[0]


def _record(
    entries: list[list[Any]], entry: list[Any], oldest: float, *, same: Any, cap: int
) -> None:
    """Put ``entry`` in ``s`` order unless an entry with the same ``same()``
    is there; drop expired entries and keep the newest ``cap``."""
    mark = same(entry)
    if any(same(e) == mark for e in entries):
        return
    if entries and entries[-1][1] > entry[1]:
        bisect.insort(entries, entry, key=_seq)  # a redelivered probe, rare
    else:
        entries.append(entry)
    if entries[0][2] < oldest:
        entries[:] = [e for e in entries if e[2] >= oldest]
    if len(entries) > cap:
        del entries[: len(entries) - cap]


def _prune(entries: list[list[Any]], oldest: float) -> bool:
    """Drop expired entries; whether none is left."""
    entries[:] = [e for e in entries if e[2] >= oldest]
    return not entries
