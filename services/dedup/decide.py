"""Dedup's decision: is an article new, an exact copy or a near copy, and of which story?

:func:`decide` is pure: it reads a :class:`StateStore` and returns the
:class:`Decision` with the state updates that record it; the caller applies
them (:func:`apply`). The dedup service backs the store with Faust tables,
``newsflow dedup`` with a dict (:class:`InMemoryDeduper`), so both make the
same decisions. Every stored value is JSON (Faust changelogs are JSON).

State keys (see :func:`decide` for the order they are consulted in):

- ``url:<article id>``: the decision recorded for that article;
- ``text:<exact key>``: the first article with that folded text, and its story;
- ``sig:<article id>``: the article's fingerprint, story and time;
- ``band:<i>:<hash>`` (MinHash band ``i`` of the whole text) and
  ``lead:<hash>`` (an anchor of its lead): buckets, ``[[article id, time], …]``;
- ``line:<hash>`` (a paragraph, see ``Fingerprint.lines``): the stories it
  has been seen in, ``[[story id, time], …]``; a line seen in several
  stories is site chrome (:class:`SiteChrome`).

Every record carries the time it was written (``ts``, epoch seconds of the
article's ``seen_at``); anything older than :attr:`DedupConfig.window_s` is
ignored on read and may be deleted (:func:`expired`, :meth:`InMemoryDeduper.expire`).
"""

from __future__ import annotations

import base64
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Literal, Protocol

import numpy as np
import numpy.typing as npt

from services.dedup.fingerprint import (
    FINGERPRINT_VERSION,
    MIN_NEAR_UNITS,
    WORD_SHINGLE,
    Fingerprint,
    LineHashes,
    Sketch,
    fact_conflicts,
    fingerprint,
    overlap,
    resemblance,
)
from shared.models import CleanArticle

__all__ = [
    "Article",
    "Decision",
    "DedupConfig",
    "Evidence",
    "InMemoryDeduper",
    "Kind",
    "Match",
    "Outcome",
    "SiteChrome",
    "StateStore",
    "apply",
    "decide",
    "exact_match",
    "expired",
    "judge",
    "near_or_unique",
    "probe_bucket",
    "probe_line",
    "records",
    "replay",
    "signature_record",
]

Kind = Literal["unique", "exact", "near"]
Flags = npt.NDArray[np.bool_]

_DAY_S = 86_400.0
# Shingles a containment match must share: as many as a text of the least
# length allowed near matching has. Below that, a site's headline and lines
# could lift a one-sentence snippet into matching any story opening alike.
MIN_SHARED = MIN_NEAR_UNITS - WORD_SHINGLE + 1


class StateStore(Protocol):
    """What :func:`decide` needs from state: a dict and a Faust Table both qualify."""

    def get(self, key: str, /) -> Any:
        """The value at ``key``, or None."""

    def __setitem__(self, key: str, value: Any, /) -> None:
        """Store a JSON-able value at ``key``."""


@dataclass(frozen=True, slots=True)
class DedupConfig:
    """Thresholds and limits of the decision; defaults are the tuned ones.

    A pair of texts is a near duplicate when their figures do not conflict
    (see ``fact_conflicts``) and either their shingle sets resemble each other or
    one is contained in the other and they open with the same lead, lines known
    as site chrome left out of both.
    """

    # How long an article can be matched: syndicated copies arrive within
    # days; 30 days also catches late re-publications and bounds memory.
    window_s: float = 30 * _DAY_S
    # Jaccard at or above which two texts are one story whatever else differs:
    # syndicated copies with edits and boilerplate score 0.6-0.95, follow-ups
    # that reuse background paragraphs stay below ~0.45.
    resemblance: float = 0.5
    # Containment (of the smaller text in the larger) at or above which a
    # shorter text is a truncated or trimmed copy, if the leads also agree.
    containment: float = 0.8
    # Share of the shorter lead found in the other lead: a truncated copy keeps
    # the opening; a follow-up reusing background paragraphs writes a new one.
    lead_overlap: float = 0.5
    # Contexts stating different figures ("rose _ percent": 2.1 vs 3.4) above
    # which two texts are different stories if at least half the contexts
    # they share disagree (an update may correct a figure or two). For a
    # containment match, more than this always, and even one if it is half
    # of what is shared. A templated story restates its frame with new
    # figures; a copy keeps them.
    max_fact_conflicts: int = 1
    # Entries kept per LSH bucket, newest last: a bucket shared by more texts
    # than this is boilerplate or one huge story, and older entries add nothing.
    bucket_cap: int = 32
    # Candidates checked per article, best supported first (see Evidence):
    # bounds the work for texts full of phrases shared with many others. A
    # copy shares many buckets, a teaser a rare one, and either ranks high.
    max_candidates: int = 24
    # Least evidence worth a check: one bucket shared with at most 2 others,
    # or several shared. Measured on the bench stream, candidates below 1/3
    # matched 27 times in 46,800 checks (their stories were found through
    # other members); checking them was two thirds of all the work.
    min_evidence: float = 1 / 3
    # Stories a line must have been seen in (within the window) to be site
    # chrome: a site's newsletter, copyright or "read more" line turns up under
    # every story it publishes, a story's own paragraph only in that story, or
    # in two or three when follow-ups or missed copies reuse it. Chrome is left
    # out of containment, so a teaser wrapped in a site's lines still matches
    # its full text, and out of resemblance, so a site's lines alone never
    # make two of its articles one story.
    chrome_stories: int = 3


DEFAULT_CONFIG = DedupConfig()


@dataclass(frozen=True, slots=True)
class Article:
    """What dedup looks at in an article; ``seen_at`` drives expiry."""

    id: str
    canonical_url: str
    title: str
    text: str
    source: str
    seen_at: datetime
    published_at: datetime | None = None

    @property
    def seen_s(self) -> float:
        """``seen_at`` in seconds since the epoch (naive times taken as UTC):
        the clock of every record and of expiry."""
        return _epoch(self.seen_at)

    @classmethod
    def from_clean(cls, article: CleanArticle, *, seen_at: datetime | None = None) -> Article:
        """The view of a ``news.clean`` message (``seen_at`` defaults to ``fetched_at``)."""
        return cls(
            id=article.id,
            canonical_url=article.canonical_url,
            title=article.title,
            text=article.text,
            source=article.source_id,
            seen_at=seen_at or article.fetched_at,
            published_at=article.published_at,
        )


@dataclass(frozen=True, slots=True)
class Decision:
    """Dedup's verdict (the fields of ``UniqueArticle`` besides the article).

    ``story_id`` is the id of the first article seen of the story (the
    article's own id when it is unique); ``duplicate_of`` the article it was
    matched to; ``similarity`` the estimated resemblance or containment on
    which the match was made (1.0 for exact copies).
    """

    kind: Kind
    story_id: str
    duplicate_of: str | None = None
    similarity: float | None = None


@dataclass(frozen=True, slots=True)
class Outcome:
    """A decision and the ``(key, value)`` writes that record it, in order."""

    decision: Decision
    updates: tuple[tuple[str, Any], ...] = ()


@dataclass(frozen=True, slots=True)
class Match:
    """The best earlier article a text was matched to."""

    article_id: str
    story_id: str
    similarity: float


def decide(
    article: Article,
    state: StateStore,
    config: DedupConfig = DEFAULT_CONFIG,
    *,
    fp: Fingerprint | None = None,
) -> Outcome:
    """Decide on ``article`` against ``state``; never raises on any text.

    In order: the article's id seen before (a redelivery or the same URL from
    another source) gets :func:`replay`; the same folded text as an earlier
    article is an exact duplicate of it (:func:`exact_match`); a text long
    enough for near matching is compared with the earlier articles sharing an
    LSH bucket (:func:`probe_bucket`, :func:`judge`); else the article is
    unique and starts its own story. ``fp`` may be passed when the caller
    already computed ``fingerprint(article.text, title=article.title)``.

    The steps are public so that a partitioned service can run each on the
    partition that owns its keys and still decide as this function does.
    """
    again = replay(article, state.get(f"url:{article.id}"), config)
    if again is not None:
        return again
    fp = fp if fp is not None else fingerprint(article.text, title=article.title)
    text = state.get(f"text:{fp.exact_key}") if fp.exact_key is not None else None
    exact = exact_match(article, text, config)
    if exact is not None:
        return Outcome(exact, records(article, fp, exact))
    evidence = Evidence()
    bucket_writes: list[tuple[str, Any]] = []
    for band in fp.bands:
        members, bucket = probe_bucket(state.get(band), article.id, article.seen_s, config)
        evidence.add(members)
        bucket_writes.append((band, bucket))
    checked = evidence.best(config)
    chrome = SiteChrome(state, article.seen_s, config)
    candidates = [(cid, state.get(f"sig:{cid}")) for cid in checked]
    match = judge(fp, candidates, article.seen_s, config, chrome=chrome)
    decision = near_or_unique(article, match)
    line_writes = chrome.updates(fp.lines, decision.story_id)
    return Outcome(decision, (*records(article, fp, decision), *bucket_writes, *line_writes))


def replay(article: Article, seen: Any, config: DedupConfig = DEFAULT_CONFIG) -> Outcome | None:
    """The outcome for an article id already decided (``seen``: its ``url:``
    record), or None when it has none within the window.

    From the source that brought it first (a redelivery, a re-fetch): the
    recorded decision, and nothing to write. From any other source: an exact
    copy of itself, which only adds that source to the coverage; the source is
    remembered, so its own redeliveries get the same answer.
    """
    if _fresh(seen, article.seen_s, config) is None:
        return None
    sources: Sequence[str] = seen.get("sources", ())
    if sources and article.source == sources[0]:
        decision = Decision(seen["kind"], seen["story"], seen.get("of"), seen.get("sim"))
        return Outcome(decision)
    # Coverage goes to the document that holds this URL's story: the article
    # itself, or the original it was an exact copy of (a copy has no document).
    holder = seen.get("of") if seen.get("kind") == "exact" and seen.get("of") else article.id
    decision = Decision("exact", seen["story"], holder, 1.0)
    if article.source in sources:
        return Outcome(decision)
    record = {**seen, "sources": [*sources, article.source]}
    return Outcome(decision, ((f"url:{article.id}", record),))


def exact_match(
    article: Article, owner: Any, config: DedupConfig = DEFAULT_CONFIG
) -> Decision | None:
    """The exact-duplicate decision when ``owner`` (the ``text:`` record of the
    article's exact key) names another article within the window, else None."""
    live = _fresh(owner, article.seen_s, config)
    if live is None or live["id"] == article.id:
        return None
    return Decision("exact", live["story"], live["id"], 1.0)


class Evidence:
    """Which earlier articles share buckets with this one, and how tellingly.

    A bucket shared with few articles is strong evidence; one shared with
    many is a stock phrase or a site's boilerplate. Each shared bucket adds
    1/(its other members) to a candidate's weight.
    """

    def __init__(self) -> None:
        self._weights: dict[str, float] = {}

    def add(self, members: Sequence[str]) -> None:
        """Count one probed bucket's other members."""
        if members:
            share = 1.0 / len(members)
            for member in members:
                self._weights[member] = self._weights.get(member, 0.0) + share

    def best(self, config: DedupConfig = DEFAULT_CONFIG) -> list[str]:
        """The candidates worth checking: weight at least ``config.min_evidence``,
        at most ``config.max_candidates``, heaviest first (ties by id)."""
        kept = [(-w, cid) for cid, w in self._weights.items() if w >= config.min_evidence]
        return [cid for _, cid in sorted(kept)[: config.max_candidates]]


def probe_bucket(
    bucket: Any, article_id: str, now: float, config: DedupConfig = DEFAULT_CONFIG
) -> tuple[list[str], list[list[Any]]]:
    """Look up and join one LSH bucket; the caller writes the new value back
    before the bucket is probed again (one partition owns each bucket key).

    Returns the ids of the live members other than ``article_id`` (oldest
    first) and the bucket's new value: live members plus this article, at most
    ``config.bucket_cap`` entries, the oldest dropped first. ``now`` is
    :attr:`Article.seen_s`.
    """
    if not bucket:
        return [], [[article_id, now]]
    oldest = now - config.window_s
    live = [entry for entry in bucket if entry[1] >= oldest and entry[0] != article_id]
    members = [entry[0] for entry in live]
    return members, [*live, [article_id, now]][-config.bucket_cap :]


def probe_line(
    line: Any, story_id: str, now: float, config: DedupConfig = DEFAULT_CONFIG
) -> list[list[Any]] | None:
    """The new value of a ``line:`` record (``line``) once a paragraph is seen
    in ``story_id``, or None when it need not change.

    The record keeps the newest ``config.chrome_stories`` live stories: enough
    to tell chrome. A story already there adds nothing (its copies repeat its
    paragraphs); a full record is rewritten only once its oldest entry is half
    a window old, so a site's standing lines stay known without a write for
    every article.
    """
    return _next_line(_live_entries(line, now, config), story_id, now, config)


def _next_line(
    live: list[list[Any]], story_id: str, now: float, config: DedupConfig
) -> list[list[Any]] | None:
    """:func:`probe_line` on the record's live entries."""
    for entry in live:
        if entry[0] == story_id:
            return None
    cap = config.chrome_stories
    if len(live) >= cap and now - min(float(entry[1]) for entry in live) < config.window_s / 2:
        return None
    return [*live, [story_id, now]][-cap:]


class SiteChrome:
    """Which paragraphs are site chrome, from the ``line:`` records in state.

    A line is chrome when it has been seen in at least
    ``config.chrome_stories`` stories within the window. Each record is read
    at most once, and only for the paragraphs a comparison needs;
    :meth:`updates` then gives the writes that record an article's lines.
    """

    def __init__(self, state: StateStore, now: float, config: DedupConfig = DEFAULT_CONFIG) -> None:
        self._state = state
        self._now = now
        self._config = config
        self._live: dict[int, list[list[Any]]] = {}
        # Flags by the identity of the arrays they were computed for (held,
        # so an id is not reused): the article's own are asked for again with
        # every candidate, and decoded records are shared (see _array).
        self._flags: dict[int, tuple[LineHashes, Flags]] = {}
        self._leads: dict[tuple[int, int], tuple[Any, Flags | None]] = {}

    def flags(self, lines: LineHashes) -> Flags:
        """Per paragraph of ``lines``, whether it is chrome (untracked
        paragraphs, hash 0, never are)."""
        known = self._flags.get(id(lines))
        if known is not None:
            return known[1]
        least = self._config.chrome_stories
        live = self._live
        out: list[bool] = []
        for line in lines.tolist():
            if line == 0:
                out.append(False)
                continue
            entries = live.get(line)
            out.append(len(entries if entries is not None else self._load(line)) >= least)
        flags = np.array(out, dtype=np.bool_)
        self._flags[id(lines)] = lines, flags
        return flags

    def in_lead(self, lines: LineHashes, lead_segments: npt.NDArray[np.uint8]) -> Flags | None:
        """Per lead shingle (``lead_segments``: the paragraph each starts in),
        whether its paragraph is chrome; None when none is. Reads only the
        lead's few paragraphs."""
        key = id(lines), id(lead_segments)
        known = self._leads.get(key)
        if known is not None:
            return known[1]
        least = self._config.chrome_stories
        count = len(lines)
        chrome = [
            segment
            for segment in set(lead_segments.tolist())
            if segment < count
            and (line := int(lines[segment])) != 0
            and len(self._entries(line)) >= least
        ]
        flags: Flags | None = None
        if chrome:
            table = np.zeros(256, dtype=np.bool_)  # segments are bytes
            table[chrome] = True
            flags = table[lead_segments]
        self._leads[key] = (lines, lead_segments), flags
        return flags

    def updates(self, lines: LineHashes, story_id: str) -> list[tuple[str, Any]]:
        """The ``line:`` writes that record ``lines`` as seen in ``story_id``."""
        writes: list[tuple[str, Any]] = []
        for line in dict.fromkeys(lines.tolist()):
            if line == 0:
                continue
            value = _next_line(self._entries(line), story_id, self._now, self._config)
            if value is not None:
                writes.append((_line_key(line), value))
        return writes

    def _entries(self, line: int) -> list[list[Any]]:
        live = self._live.get(line)
        return live if live is not None else self._load(line)

    def _load(self, line: int) -> list[list[Any]]:
        live = _live_entries(self._state.get(_line_key(line)), self._now, self._config)
        self._live[line] = live
        return live


def judge(
    fp: Fingerprint,
    candidates: Iterable[tuple[str, Any]],
    now: float,
    config: DedupConfig = DEFAULT_CONFIG,
    *,
    chrome: SiteChrome | None = None,
) -> Match | None:
    """The best candidate that ``fp``'s text is a near duplicate of, or None.

    ``candidates`` are ``(article id, sig record or None)`` pairs; records
    missing, out of the window (``now`` is :attr:`Article.seen_s`) or of
    another fingerprint version are skipped. A candidate matches when their
    figures do not conflict and either the resemblance reaches
    ``config.resemblance`` or the containment reaches ``config.containment``
    with leads overlapping by ``config.lead_overlap``; with ``chrome``, the
    lines it knows as site chrome are left out of both measures. The best is a
    resemblance match before a containment one (a full copy is a better
    ``duplicate_of`` than a teaser), then the highest similarity, then the
    earliest, then the smallest id: the choice does not depend on the order of
    ``candidates``.
    """
    best: tuple[int, float, float, str, str] | None = None
    for cid, record in candidates:
        live = _fresh(record, now, config)
        if live is None or live.get("v") != FINGERPRINT_VERSION:
            continue
        found = _similarity(fp, live, config, chrome)
        if found is None:
            continue
        rank, score = found
        key = (rank, -score, float(live["ts"]), cid, str(live["story"]))
        if best is None or key < best:
            best = key
    if best is None:
        return None
    return Match(article_id=best[3], story_id=best[4], similarity=-best[1])


def near_or_unique(article: Article, match: Match | None) -> Decision:
    """The decision for an article that is not an exact copy."""
    if match is None:
        return Decision("unique", article.id)
    return Decision("near", match.story_id, match.article_id, round(match.similarity, 4))


def records(article: Article, fp: Fingerprint, decision: Decision) -> tuple[tuple[str, Any], ...]:
    """The ``url:``, ``text:`` and ``sig:`` writes that record ``decision``.

    An exact copy records only its URL: its text and fingerprint are its
    original's. Bucket writes are not included (see :func:`probe_bucket`).
    """
    now = article.seen_s
    url = (f"url:{article.id}", _url_record(article, decision, now))
    if decision.kind == "exact":
        return (url,)
    writes: list[tuple[str, Any]] = [url]
    if fp.exact_key is not None:
        owner = {"id": article.id, "story": decision.story_id, "ts": now}
        writes.append((f"text:{fp.exact_key}", owner))
    if fp.near_eligible:
        writes.append((f"sig:{article.id}", signature_record(fp, decision.story_id, now)))
    return tuple(writes)


def signature_record(fp: Fingerprint, story_id: str, now: float) -> dict[str, Any]:
    """The ``sig:<id>`` value: what :func:`judge` needs of a candidate, as JSON."""
    return {
        "v": FINGERPRINT_VERSION,
        "story": story_id,
        "ts": now,
        "n": fp.sketch.size,
        "sk": _b64(fp.sketch.hashes.astype("<u4")),
        "sg": _b64(fp.sketch.segments),
        "sh": _b64(np.packbits(fp.sketch.short)),
        "ns": len(fp.sketch.short),
        "ld": _b64(fp.lead.astype("<u4")),
        "lc": fp.lead_complete,
        "nu": _b64(fp.facts.astype("<u8")),
        "ln": _b64(fp.lines.astype("<u8")),
        "lg": _b64(fp.lead_segments),
    }


def fingerprint_record(fp: Fingerprint) -> dict[str, Any]:
    """``fp`` as JSON, to compute it on one worker and decide on another."""
    return {
        **signature_record(fp, "", 0.0),
        "key": fp.exact_key,
        "units": fp.units,
        "bands": list(fp.bands),
    }


def fingerprint_from_record(record: Mapping[str, Any]) -> Fingerprint:
    """The fingerprint that :func:`fingerprint_record` wrote."""
    return Fingerprint(
        exact_key=record["key"],
        units=int(record["units"]),
        sketch=_sketch(record),
        lead=_array(record["ld"], "<u4", np.uint32),
        lead_complete=bool(record["lc"]),
        facts=_array(record["nu"], "<u8", np.uint64),
        bands=tuple(record["bands"]),
        lines=_lines(record),
        lead_segments=_array(record.get("lg", ""), "u1", np.uint8),
    )


def apply(state: StateStore, updates: Iterable[tuple[str, Any]]) -> None:
    """Write an outcome's updates into ``state``."""
    for key, value in updates:
        state[key] = value


def expired(value: Any, now: datetime, config: DedupConfig = DEFAULT_CONFIG) -> bool:
    """Whether a stored value has nothing left within the window (safe to delete).

    For a bucket: all its entries are older than the window; for a record: it is.
    """
    oldest = _epoch(now) - config.window_s
    if isinstance(value, list):
        return all(entry[1] < oldest for entry in value)
    if isinstance(value, dict):
        return float(value.get("ts", 0)) < oldest
    return True


@dataclass
class InMemoryDeduper:
    """Single-process dedup over a dict, for ``newsflow dedup`` and tests.

    Decisions equal the service's for the same arrival order. Memory stays
    bounded: what falls out of the window is deleted as articles are processed
    (oldest writes first).
    """

    config: DedupConfig = DEFAULT_CONFIG
    store: dict[str, Any] = field(default_factory=dict)
    _writes: deque[tuple[float, tuple[str, ...]]] = field(default_factory=deque, repr=False)

    def process(self, article: Article) -> Decision:
        """Decide on ``article``, record it, and forget what has expired."""
        self.expire(article.seen_at)
        outcome = decide(article, self.store, self.config)
        apply(self.store, outcome.updates)
        if outcome.updates:
            keys = tuple(key for key, _ in outcome.updates)
            self._writes.append((article.seen_s, keys))
        return outcome.decision

    def expire(self, now: datetime) -> int:
        """Delete values that have expired by ``now``; returns how many."""
        cutoff = _epoch(now) - self.config.window_s
        removed = 0
        while self._writes and self._writes[0][0] < cutoff:
            _, keys = self._writes.popleft()
            for key in keys:
                value = self.store.get(key)
                if value is not None and expired(value, now, self.config):
                    del self.store[key]
                    removed += 1
        return removed


# --- helpers -----------------------------------------------------------------


def _similarity(
    fp: Fingerprint, record: Mapping[str, Any], config: DedupConfig, chrome: SiteChrome | None
) -> tuple[int, float] | None:
    """How ``fp`` matches ``record``: (0, resemblance) or (1, containment), or
    None. Cheap checks first: most candidates fail on figures or the lead."""
    shared, conflicts = fact_conflicts(fp.facts, _array(record["nu"], "<u8", np.uint64))
    if conflicts > config.max_fact_conflicts and 2 * conflicts >= shared:
        return None  # at least half the shared figures differ: a templated story
    other = _sketch(record)
    similar = resemblance(fp.sketch, other)
    if similar >= config.resemblance and chrome is not None:
        # Lines of one site can make two of its short articles alike: the
        # resemblance must hold without them. The new article's own chrome is
        # what the two can share (chrome in the other text alone only lowers
        # the resemblance), so its flags are all this takes.
        fp_flags = chrome.flags(fp.lines)
        if fp_flags.any():
            similar = resemblance(fp.sketch, other, a_chrome=fp_flags)
    if similar >= config.resemblance:
        return 0, similar
    if conflicts > config.max_fact_conflicts or (conflicts and 2 * conflicts >= shared):
        return None  # a containment match has less text to go on: stricter on figures
    containment = _containment_match(fp, record, other, config, chrome)
    return None if containment is None else (1, containment)


def _containment_match(
    fp: Fingerprint,
    record: Mapping[str, Any],
    other: Sketch,
    config: DedupConfig,
    chrome: SiteChrome | None,
) -> float | None:
    """The containment on which the smaller text is a truncated or trimmed copy
    of the larger, or None: it must open with the same lead and share at
    least :data:`MIN_SHARED` shingles. Site chrome is left out of the leads
    too: a site's prose lines at the top push the story out of a lead."""
    fp_lead = fp.lead
    other_lead = _array(record["ld"], "<u4", np.uint32)
    if not set(fp_lead.tolist()).intersection(other_lead.tolist()):
        return None  # leaving chrome out can only remove shared shingles
    if chrome is not None:
        fp_lead = _lead_without(chrome, fp_lead, fp.lead_segments, fp.lines)
        other_segments = _array(record.get("lg", ""), "u1", np.uint8)
        other_lead = _lead_without(chrome, other_lead, other_segments, _lines(record))
    common = len(set(fp_lead.tolist()).intersection(other_lead.tolist()))
    smaller = min(len(fp_lead), len(other_lead))
    lead = common / smaller if smaller else 0.0
    if lead < config.lead_overlap:
        return None
    fp_chrome = other_chrome = None
    if chrome is not None:
        fp_chrome, other_chrome = chrome.flags(fp.lines), chrome.flags(_lines(record))
    estimate = overlap(fp.sketch, other, a_chrome=fp_chrome, b_chrome=other_chrome)
    containment, shared = estimate.containment, estimate.shared
    if fp.lead_complete if fp.sketch.size <= other.size else bool(record["lc"]):
        # The smaller text is all lead: the exact lead sets measure its
        # containment without sampling error.
        containment, shared = max(containment, lead), max(shared, common)
    if containment < config.containment or shared < MIN_SHARED:
        return None
    return containment


def _lead_without(
    chrome: SiteChrome,
    lead: npt.NDArray[np.uint32],
    segments: npt.NDArray[np.uint8],
    lines: LineHashes,
) -> npt.NDArray[np.uint32]:
    """``lead`` less the shingles starting in chrome paragraphs (all of it
    when the segments are unknown: records written before they were stored)."""
    if len(segments) != len(lead):
        return lead
    inside = chrome.in_lead(lines, segments)
    if inside is None:
        return lead
    kept: npt.NDArray[np.uint32] = lead[~inside]
    return kept


def _sketch(record: Mapping[str, Any]) -> Sketch:
    """The sketch stored in a ``sig:`` record."""
    return _decode_sketch(record["sk"], record["sg"], record["sh"], record["ns"], record["n"])


# Decoded sketches and arrays, by their stored text: popular stories are
# checked again with every new copy. 4096 sketches take about 12 MiB.
_DECODED = 4096


@lru_cache(maxsize=_DECODED)
def _decode_sketch(hashes: str, segments: str, short: str, paragraphs: int, size: int) -> Sketch:
    short_bits = np.frombuffer(base64.b64decode(short), dtype=np.uint8)
    return Sketch(
        hashes=_array(hashes, "<u4", np.uint32),
        segments=_array(segments, "u1", np.uint8),
        short=np.unpackbits(short_bits, count=int(paragraphs)).astype(np.bool_),
        size=int(size),
    )


def _lines(record: Mapping[str, Any]) -> LineHashes:
    """The paragraph hashes of a ``sig:`` record (none in records written
    before they were stored)."""
    lines: LineHashes = _array(record.get("ln", ""), "<u8", np.uint64)
    return lines


def _line_key(line: int) -> str:
    return f"line:{line:016x}"


def _live_entries(value: Any, now: float, config: DedupConfig) -> list[list[Any]]:
    """The entries of a bucket-shaped record (``[[id, time], …]``) within the window."""
    if not isinstance(value, list):
        return []
    oldest = now - config.window_s
    return [entry for entry in value if float(entry[1]) >= oldest]


def _url_record(article: Article, decision: Decision, now: float) -> dict[str, Any]:
    return {
        "kind": decision.kind,
        "story": decision.story_id,
        "of": decision.duplicate_of,
        "sim": decision.similarity,
        "sources": [article.source],
        "ts": now,
    }


def _fresh(value: Any, now: float, config: DedupConfig) -> Any:
    """``value`` if it is a record written within the window, else None."""
    if not isinstance(value, dict) or _is_stale(value.get("ts", 0), now, config):
        return None
    return value


def _is_stale(ts: float, now: float, config: DedupConfig) -> bool:
    return now - float(ts) > config.window_s


def _epoch(moment: datetime) -> float:
    """Seconds since the epoch; naive datetimes are taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _b64(values: npt.NDArray[Any]) -> str:
    return base64.b64encode(values.tobytes()).decode("ascii")


@lru_cache(maxsize=_DECODED)
def _array(text: str, stored: str, dtype: type[np.generic]) -> npt.NDArray[Any]:
    """An array packed by :func:`_b64` as ``stored`` (explicit byte order);
    read-only, as it may be shared."""
    values = np.frombuffer(base64.b64decode(text), dtype=stored).astype(dtype, copy=False)
    values.flags.writeable = False
    return values
