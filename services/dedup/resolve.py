"""The article's half of a dedup decision: from what its keys answered to its verdict.

Once every key of an article has answered (:meth:`KeyIndex.probe`), two steps
remain, both pure:

1. :func:`plan` reads the answers and says which earlier articles' records
   the decision needs: the first occurrence of the same id (a redelivery or
   the same URL from another source), or the first article with the same
   text (an exact copy), or else the best supported LSH candidates, with
   the articles seen with its paragraphs (to tell site chrome by the
   stories it turned up in).
2. :func:`conclude` takes those records (None for any no longer kept) and
   returns the :class:`Decision` and the article's own record, which later
   articles read in turn.

Every article named by an answer came before this one, so its record exists
or will: the service waits for it (its decision may still be under way on
another worker), ``newsflow dedup`` has it already (:class:`InMemoryDeduper`).
Both run these functions on the same answers, so they decide alike.

Records (``a:<id>`` in the service's table, one per article id, written by
its first occurrence): the verdict (``kind``, ``story``, ``of``, ``sim``),
``s``, ``ts`` and, for texts long enough for near matching, the signature
with the paragraphs known as chrome then (:func:`signature_record`).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import numpy as np

from services.dedup.decide import (
    DEFAULT_CONFIG,
    Article,
    Decision,
    DedupConfig,
    Evidence,
    judge,
    near_or_unique,
    signature_record,
)
from services.dedup.fingerprint import Fingerprint, fingerprint
from services.dedup.keys import URL, KeyIndex, Probe, article_keys, line_key

__all__ = ["InMemoryDeduper", "Plan", "chrome_flags", "conclude", "holder", "plan", "record_key"]

Route = Literal["replay", "exact", "near"]
# The fields of a record a brief request returns: the verdict, without the signature.
BRIEF = ("kind", "story", "of", "sim", "ts", "s")


def record_key(article_id: str) -> str:
    """The table key of an article's record."""
    return f"a:{article_id}"


@dataclass(frozen=True, slots=True)
class Plan:
    """Which earlier records a decision needs: ``full`` ones (candidates,
    with their signatures) and ``brief`` ones (their verdict only)."""

    route: Route
    full: tuple[str, ...] = ()
    brief: tuple[str, ...] = ()
    # replay: the source the article's id was first seen from.
    first_source: str | None = None
    # near: per paragraph of the article, the articles seen with it before.
    lines: tuple[tuple[str, ...], ...] = ()

    @property
    def needs(self) -> dict[str, bool]:
        """Every id needed, and whether in full."""
        wanted = dict.fromkeys(self.brief, False)
        wanted.update(dict.fromkeys(self.full, True))
        return wanted


def plan(
    article: Article,
    fp: Fingerprint,
    answer: Mapping[str, Any],
    config: DedupConfig = DEFAULT_CONFIG,
) -> Plan:
    """What the decision on ``article`` needs, from its keys' ``answer``.

    In order: the id seen before within the window is a replay of its first
    occurrence; the same folded text as an earlier article is an exact copy
    of it; else the LSH candidates with the most evidence (see
    :class:`~services.dedup.decide.Evidence`) are compared, and the articles
    seen with its paragraphs tell which are site chrome (only paragraphs seen
    with enough articles to be chrome count).
    """
    first = answer.get(f"{URL}{article.id}")
    if first is not None:
        return Plan("replay", brief=(article.id,), first_source=str(first[0]))
    owner = answer.get(f"text:{fp.exact_key}") if fp.exact_key is not None else None
    if owner is not None:
        return Plan("exact", brief=(str(owner),))
    if not fp.near_eligible:
        return Plan("near")
    evidence = Evidence()
    for band in fp.bands:
        evidence.add(answer.get(band) or ())
    candidates = tuple(evidence.best(config))
    lines: list[tuple[str, ...]] = []
    for line in fp.lines.tolist():
        seen = answer.get(line_key(line)) if line else None
        lines.append(tuple(seen) if seen and len(seen) >= config.chrome_stories else ())
    wanted = dict.fromkeys(cid for seen in lines for cid in seen)
    brief = tuple(cid for cid in wanted if cid not in candidates)
    return Plan("near", full=candidates, brief=brief, lines=tuple(lines))


def conclude(
    article: Article,
    fp: Fingerprint,
    s: int,
    steps: Plan,
    records: Mapping[str, Any],
    config: DedupConfig = DEFAULT_CONFIG,
) -> tuple[Decision, dict[str, Any] | None]:
    """The decision on ``article`` (sequence number ``s``) and its record to
    keep (None for a replay: its id's record stays its first occurrence's).

    ``records`` has an entry for each id ``steps`` needs: the record, or None
    when it is no longer kept (then the article is judged without it).
    """
    now = article.seen_s
    if steps.route == "replay":
        first = records.get(article.id)
        if first is not None:
            if steps.first_source == article.source:
                # The same article again (a redelivery, a re-fetch): the same verdict.
                verdict = Decision(first["kind"], first["story"], first.get("of"), first.get("sim"))
            else:
                # The same URL from another feed: only adds to the coverage.
                verdict = Decision("exact", first["story"], holder(first, article.id), 1.0)
            return verdict, None
        return _recorded(Decision("unique", article.id), fp, s, now, None)
    if steps.route == "exact":
        owner_id = steps.brief[0]
        owner = records.get(owner_id)
        if owner is not None:
            verdict = Decision("exact", owner["story"], holder(owner, owner_id), 1.0)
            # The same text has the same paragraphs: the owner's chrome is this one's.
            return _recorded(verdict, fp, s, now, owner.get("cf"))
        return _recorded(Decision("unique", article.id), fp, s, now, None)
    chrome = chrome_flags(steps, records, config)
    candidates = [(cid, records.get(cid)) for cid in steps.full]
    match = judge(fp, candidates, now, config, chrome=chrome)
    verdict = near_or_unique(article, match)
    if match is not None:
        matched = records.get(match.article_id)
        verdict = Decision(
            verdict.kind, verdict.story_id, holder(matched, match.article_id), verdict.similarity
        )
    return _recorded(verdict, fp, s, now, chrome)


def holder(record: Mapping[str, Any] | None, article_id: str) -> str:
    """The article whose document carries ``article_id``'s story in the index:
    itself, or the original an exact copy was not indexed apart from."""
    if record is not None and record.get("kind") == "exact" and record.get("of"):
        return str(record["of"])
    return article_id


def brief(record: Mapping[str, Any]) -> dict[str, Any]:
    """The verdict part of a record (what a brief request gets)."""
    return {name: record[name] for name in BRIEF if name in record}


def chrome_flags(
    steps: Plan, records: Mapping[str, Any], config: DedupConfig
) -> np.ndarray[Any, np.dtype[np.bool_]] | None:
    """Per paragraph of the article, whether it turned up in at least
    ``config.chrome_stories`` stories; None when none did."""
    if not steps.lines:
        return None
    flags = np.zeros(len(steps.lines), dtype=np.bool_)
    for at, seen in enumerate(steps.lines):
        if seen:
            stories = {r["story"] for cid in seen if (r := records.get(cid)) is not None}
            flags[at] = len(stories) >= config.chrome_stories
    return flags if flags.any() else None


def _recorded(
    verdict: Decision,
    fp: Fingerprint,
    s: int,
    now: float,
    chrome: Any,
) -> tuple[Decision, dict[str, Any]]:
    record: dict[str, Any] = {"story": verdict.story_id, "ts": now}
    if fp.near_eligible:
        flags = chrome if isinstance(chrome, np.ndarray) else None
        record = signature_record(fp, verdict.story_id, now, flags)
        if isinstance(chrome, str):
            record["cf"] = chrome
    record.update(kind=verdict.kind, of=verdict.duplicate_of, sim=verdict.similarity, s=s)
    return verdict, record


@dataclass
class InMemoryDeduper:
    """Dedup in one process over in-memory state, for ``newsflow dedup`` and tests.

    Articles are decided in the order given, through the same probes,
    :func:`plan` and :func:`conclude` as the service, so the decisions are
    the service's for that order. Memory stays bounded by the window: what
    falls out of it is forgotten as articles are processed.
    """

    config: DedupConfig = DEFAULT_CONFIG
    records: dict[str, Any] = field(default_factory=dict)
    index: KeyIndex | None = None
    _next: int = 0
    _order: deque[tuple[float, str]] = field(default_factory=deque, repr=False)

    def __post_init__(self) -> None:
        if self.index is None:
            self.index = KeyIndex(self.config)

    def process(self, article: Article, fp: Fingerprint | None = None) -> Decision:
        """Decide on ``article`` (``fp``: its fingerprint, if already computed)."""
        assert self.index is not None
        fp = fp if fp is not None else fingerprint(article.text, title=article.title)
        s, self._next = self._next, self._next + 1
        now = article.seen_s
        self._expire(now)
        keys = tuple(article_keys(article.id, fp))
        answer = self.index.probe(Probe(article.id, s, now, article.source, keys))
        steps = plan(article, fp, answer, self.config)
        found = {cid: self.records.get(record_key(cid)) for cid in steps.needs}
        decision, record = conclude(article, fp, s, steps, found, self.config)
        if record is not None:
            self.records[record_key(article.id)] = record
            self._order.append((now, article.id))
        return decision

    def expire(self, now: datetime) -> int:
        """Forget what fell out of the window before ``now``; returns the records dropped."""
        return self._expire(Article("", "", "", "", "", now).seen_s)

    def _expire(self, now: float) -> int:
        assert self.index is not None
        cutoff = now - self.config.window_s
        removed = 0
        while self._order and self._order[0][0] < cutoff:
            _, article_id = self._order.popleft()
            record = self.records.get(record_key(article_id))
            if record is not None and float(record["ts"]) < cutoff:
                del self.records[record_key(article_id)]
                removed += 1
        self.index.expire(now)
        return removed
