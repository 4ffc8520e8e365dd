"""The decide agent's state: records in a changelog-backed table, buckets in memory.

:func:`~services.dedup.decide.decide` rewrites every bucket-shaped value it
touches (``band:``/``lead:`` LSH buckets, ``line:`` records): some 30 per new
article. Written to a Faust table, each is a changelog message, and those
messages were most of the worker's CPU. Yet each such write only appends one
entry ``[id, time]`` to the old value's entries still within the window
(dropping an older entry of the same id) and keeps the newest ``n``.

So :class:`IndexedState` keeps those values in memory only (the *index*) and
records, per decision, a journal of the appends (``[[key, n], …]``: append
this article to ``key`` and keep ``n`` entries) in the
article's ``sig:`` record (or, for an outcome with no ``sig:`` write, in an
``ix:<article id>`` record) along with a sequence number ``q``. A decision
then writes 2-3 changelog messages instead of ~30. Every append is checked
when it is made: a write that is not such an append is journaled as the whole
value, so the index never depends on what ``decide`` does with these keys.

The index is derived state: :meth:`IndexedState.rebuild` replays the journals
in ``q`` order over the recovered table (bucket keys written by an older
version straight into the table are taken as the starting values), and gives
the same index the live worker had. The service rebuilds it after every table
recovery (start, restart, rebalance) before its next decision.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any, Protocol

import orjson

from services.dedup.decide import DedupConfig, expired

__all__ = ["INDEXED", "IndexedState", "Records"]

log = logging.getLogger(__name__)

# Key prefixes whose values live in the index: every bucket-shaped record
# decide() keeps (``[[id, time], …]``, newest last).
INDEXED = ("band:", "lead:", "line:")
# Where a decision's journal goes when it writes no ``sig:`` record.
JOURNAL_PREFIX = "ix:"


class Records(Protocol):
    """The table behind :class:`IndexedState`: a dict and a Faust Table both qualify."""

    def get(self, key: str, /) -> Any: ...

    def __setitem__(self, key: str, value: Any, /) -> None: ...

    def __delitem__(self, key: str, /) -> None: ...

    def items(self) -> Iterable[tuple[str, Any]]: ...


class IndexedState:
    """A :class:`~services.dedup.decide.StateStore` over ``table`` and an in-memory index.

    :func:`decide` reads it like any store; the caller records an outcome
    with :meth:`apply` (not item by item: one decision's appends share one
    journal). ``stale`` says the index must be rebuilt before the next read.
    """

    def __init__(self, table: Records, config: DedupConfig) -> None:
        self._table = table
        self._config = config
        self._index: dict[str, Any] = {}
        self._next_q = 0
        self.stale = True

    # --- what decide() reads ---------------------------------------------------

    def get(self, key: str, /) -> Any:
        if key.startswith(INDEXED):
            return self._index.get(key)
        return self._table.get(key)

    def __setitem__(self, key: str, value: Any, /) -> None:
        """One write on its own (decide never makes one): journaled under its key."""
        self.apply(key, _now_of(value), ((key, value),))

    # --- recording -------------------------------------------------------------

    def apply(self, article_id: str, now: float, updates: Iterable[tuple[str, Any]]) -> None:
        """Record an outcome's ``updates`` for the article ``article_id`` seen at ``now``."""
        journal: list[list[Any]] = []
        plain: list[tuple[str, Any]] = []
        for key, value in updates:
            if key.startswith(INDEXED):
                journal.append(self._journal_entry(key, value, article_id, now))
                self._set(key, value)
            else:
                plain.append((key, value))
        if journal:
            # One string, not nested lists: it is kept in memory with its
            # record, and a string is a fraction of their size there.
            mark = {"q": self._next_q, "ix": orjson.dumps(journal).decode()}
            self._next_q += 1
            sig = f"sig:{article_id}"
            at = next((i for i, (key, v) in enumerate(plain) if key == sig and _is_dict(v)), None)
            if at is None:
                plain.append((f"{JOURNAL_PREFIX}{article_id}", {"ts": now, **mark}))
            else:
                plain[at] = (sig, {**plain[at][1], **mark})
        for key, value in plain:
            self._table[key] = value

    def _journal_entry(self, key: str, value: Any, owner: str, now: float) -> list[Any]:
        """How to redo the write of ``value`` at ``key``.

        ``[key, n]`` when it is the old value with ``[owner, now]`` appended,
        keeping ``n`` entries (``[key, n, id]`` or ``[key, n, id, time]``
        when another id or time was appended); else ``[key, value]``.
        """
        if isinstance(value, list) and value:
            last = value[-1]
            if isinstance(last, list) and len(last) == 2 and isinstance(last[1], int | float):
                member, at = last
                n = len(value)
                try:
                    derived = _append(self._index.get(key), member, at, n, self._config)
                except (IndexError, TypeError, ValueError):
                    derived = None  # an old value of another shape: keep the whole value
                if derived == value:
                    if at != now:
                        return [key, n, member, at]
                    return [key, n] if member == owner else [key, n, member]
        return [key, value]

    def _set(self, key: str, value: Any) -> None:
        if value is None:
            self._index.pop(key, None)
        else:
            self._index[key] = value

    # --- recovery and expiry ---------------------------------------------------

    def rebuild(self) -> None:
        """Derive the index from the table's records again (see the module doc).

        Never raises on a bad record: it is skipped and logged, as the worker
        must keep deciding.
        """
        self._index.clear()
        journals: list[tuple[int, str, float, str]] = []
        for key, value in list(self._table.items()):
            if key.startswith(INDEXED):
                self._set(key, value)  # written by a version without the index
            elif _is_dict(value) and "ix" in value:
                try:
                    owner = key.split(":", 1)[1]
                    journal = (int(value["q"]), owner, float(value["ts"]), str(value["ix"]))
                except (IndexError, KeyError, TypeError, ValueError):
                    log.warning("dedup index: unreadable journal", extra={"record": key})
                    continue
                journals.append(journal)
        journals.sort(key=lambda journal: journal[0])
        for _, owner, ts, packed in journals:
            for entry in _entries(packed):
                self._replay(entry, owner, ts)
        self._next_q = journals[-1][0] + 1 if journals else 0
        self.stale = False
        log.info("dedup index rebuilt", extra={"journals": len(journals), "keys": len(self._index)})

    def _replay(self, entry: Any, owner: str, ts: float) -> None:
        try:
            key = str(entry[0])
            if type(entry[1]) is not int:
                self._set(key, entry[1])
                return
            n = entry[1]
            member = entry[2] if len(entry) > 2 else owner
            at = float(entry[3]) if len(entry) > 3 else ts
            self._index[key] = _append(self._index.get(key), member, at, n, self._config)
        except (IndexError, TypeError, ValueError):
            log.warning("dedup index: unreadable journal entry", extra={"entry": repr(entry)})

    def sweep(self, now: datetime) -> int:
        """Delete what fell out of the window, so memory stays bounded by it;
        returns how many keys went.

        Index values also lose their entries older than the window: the
        journals that wrote them are deleted with their records, and a
        rebuild must find the index the live worker had.
        """
        stale = [k for k, value in list(self._table.items()) if expired(value, now, self._config)]
        for key in stale:
            del self._table[key]
        oldest = _epoch(now) - self._config.window_s
        gone = 0
        for key, value in list(self._index.items()):
            if not isinstance(value, list):
                continue
            live = [e for e in value if not _entry_older(e, oldest)]
            if not live:
                del self._index[key]
                gone += 1
            elif len(live) < len(value):
                self._index[key] = live
        return len(stale) + gone

    def index_items(self) -> Iterator[tuple[str, Any]]:
        """The index's keys and values (for tests and inspection)."""
        return iter(self._index.items())


def _append(old: Any, member: Any, at: float, n: int, config: DedupConfig) -> list[list[Any]]:
    """``old``'s entries within the window of ``at``, other than ``member``'s,
    then ``[member, at]``; the newest ``n`` of them."""
    oldest = at - config.window_s
    live = [
        entry
        for entry in (old if isinstance(old, list) else ())
        if float(entry[1]) >= oldest and entry[0] != member
    ]
    live.append([member, at])
    return live[-n:]


def _entry_older(entry: Any, oldest: float) -> bool:
    try:
        return float(entry[1]) < oldest
    except (IndexError, TypeError, ValueError):
        return True  # not an entry decide() wrote: nothing to keep


def _entries(packed: str) -> list[Any]:
    try:
        entries = orjson.loads(packed)
    except orjson.JSONDecodeError:
        log.warning("dedup index: journal is not JSON")
        return []
    return entries if isinstance(entries, list) else []


def _is_dict(value: Any) -> bool:
    return isinstance(value, dict)


def _epoch(moment: datetime) -> float:
    """Seconds since the epoch; naive datetimes are taken as UTC (as decide does)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _now_of(value: Any) -> float:
    """The newest entry time of a bucket-shaped value (0 for anything else)."""
    if isinstance(value, list):
        times = [float(e[1]) for e in value if isinstance(e, list) and len(e) == 2]
        return max(times, default=0.0)
    return 0.0
