"""Dedup's judgement: is a text a near copy of an earlier one, and which fits best?

The pure part of a decision, shared by every way of running it: the
article as dedup sees it (:class:`Article`), the verdict (:class:`Decision`),
how candidates are ranked (:class:`Evidence`) and compared (:func:`judge`),
and the JSON record of a decided article that later comparisons read
(:func:`signature_record`). Who the candidates are comes from the keys
(:mod:`services.dedup.keys`); how an article's decision is put together from
them, from :mod:`services.dedup.resolve`.

Every record carries the time of its article (``ts``, epoch seconds of its
``seen_at``); a record older than :attr:`DedupConfig.window_s` is ignored.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Literal

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
    overlap,
    resemblance,
)
from shared.models import CleanArticle

__all__ = [
    "Article",
    "Decision",
    "DedupConfig",
    "Evidence",
    "Kind",
    "Match",
    "fingerprint_from_record",
    "fingerprint_record",
    "judge",
    "lead_flags",
    "near_or_unique",
    "signature_record",
]

Kind = Literal["unique", "exact", "near"]
Flags = npt.NDArray[np.bool_]

_DAY_S = 86_400.0
# Shingles a containment match must share: as many as a text of the least
# length allowed near matching has. Below that, a site's headline and lines
# could lift a one-sentence snippet into matching any story opening alike.
MIN_SHARED = MIN_NEAR_UNITS - WORD_SHINGLE + 1


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
    # Newest articles remembered per paragraph, from which its stories are
    # counted: a story's paragraph repeated by its many copies fills them with
    # one story, a site's line fills them with as many stories as articles.
    line_entries: int = 8
    # Newest articles (in the order of decisions) left out when counting a
    # paragraph's stories. Which stories those are depends on their own
    # decisions, which other workers may still be making: counting only
    # articles at least this far back lets a worker decide without waiting
    # for its neighbours' latest verdicts, while a site's chrome, seen for
    # days, is known all the same.
    chrome_lag: int = 64


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
class Match:
    """The best earlier article a text was matched to."""

    article_id: str
    story_id: str
    similarity: float


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


def judge(
    fp: Fingerprint,
    candidates: Iterable[tuple[str, Any]],
    now: float,
    config: DedupConfig = DEFAULT_CONFIG,
    *,
    chrome: Flags | None = None,
) -> Match | None:
    """The best candidate that ``fp``'s text is a near duplicate of, or None.

    ``candidates`` are ``(article id, signature record or None)`` pairs;
    records missing, out of the window (``now`` is :attr:`Article.seen_s`) or
    of another fingerprint version are skipped. A candidate matches when their
    figures do not conflict and either the resemblance reaches
    ``config.resemblance`` or the containment reaches ``config.containment``
    with leads overlapping by ``config.lead_overlap``. Paragraphs known as
    site chrome are left out of both measures: ``chrome`` flags the article's
    own (one per ``fp.lines``), a record carries its article's (``cf``, as
    known when it was decided). The best is a resemblance match before a
    containment one (a full copy is a better ``duplicate_of`` than a teaser),
    then the highest similarity, then the earliest, then the smallest id: the
    choice does not depend on the order of ``candidates``.
    """
    own = chrome if chrome is not None and chrome.any() else None
    best: tuple[int, float, float, str, str] | None = None
    for cid, record in candidates:
        live = _fresh(record, now, config)
        if live is None or live.get("v") != FINGERPRINT_VERSION:
            continue
        found = _similarity(fp, own, live, config)
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


def signature_record(
    fp: Fingerprint, story_id: str, now: float, chrome: Flags | None = None
) -> dict[str, Any]:
    """What :func:`judge` needs of a candidate, as JSON; ``chrome`` flags its
    paragraphs known as site chrome (one per ``fp.lines``)."""
    record = {
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
    if chrome is not None and chrome.any():
        record["cf"] = _b64(np.packbits(chrome))
    return record


def lead_flags(chrome: Flags | None, segments: npt.NDArray[np.uint8]) -> Flags | None:
    """Per lead shingle (``segments``: the paragraph each starts in), whether
    its paragraph is chrome; None when none is."""
    if chrome is None or not chrome.any():
        return None
    table = np.zeros(256, dtype=np.bool_)  # segments are bytes
    table[: len(chrome)] = chrome[:256]
    flags: Flags = table[segments]
    return flags if flags.any() else None


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


# --- helpers -----------------------------------------------------------------


def _similarity(
    fp: Fingerprint, own: Flags | None, record: Mapping[str, Any], config: DedupConfig
) -> tuple[int, float] | None:
    """How ``fp`` matches ``record``: (0, resemblance) or (1, containment), or
    None. Cheap checks first: most candidates fail on figures or the lead."""
    shared, conflicts = fact_conflicts(fp.facts, _array(record["nu"], "<u8", np.uint64))
    if conflicts > config.max_fact_conflicts and 2 * conflicts >= shared:
        return None  # at least half the shared figures differ: a templated story
    other = _sketch(record)
    similar = resemblance(fp.sketch, other)
    if similar >= config.resemblance and own is not None:
        # Lines of one site can make two of its short articles alike: the
        # resemblance must hold without them. The new article's own chrome is
        # what the two can share (chrome in the other text alone only lowers
        # the resemblance), so its flags are all this takes.
        similar = resemblance(fp.sketch, other, a_chrome=own)
    if similar >= config.resemblance:
        return 0, similar
    if conflicts > config.max_fact_conflicts or (conflicts and 2 * conflicts >= shared):
        return None  # a containment match has less text to go on: stricter on figures
    containment = _containment_match(fp, own, record, other, config)
    return None if containment is None else (1, containment)


def _containment_match(
    fp: Fingerprint,
    own: Flags | None,
    record: Mapping[str, Any],
    other: Sketch,
    config: DedupConfig,
) -> float | None:
    """The containment on which the smaller text is a truncated or trimmed copy
    of the larger, or None: it must open with the same lead and share at
    least :data:`MIN_SHARED` shingles. Site chrome is left out of the leads
    too: a site's prose lines at the top push the story out of a lead."""
    fp_lead = fp.lead
    other_lead = _array(record["ld"], "<u4", np.uint32)
    if not set(fp_lead.tolist()).intersection(other_lead.tolist()):
        return None  # leaving chrome out can only remove shared shingles
    theirs = _chrome(record)
    fp_lead = _lead_without(own, fp_lead, fp.lead_segments)
    other_lead = _lead_without(theirs, other_lead, _array(record.get("lg", ""), "u1", np.uint8))
    common = len(set(fp_lead.tolist()).intersection(other_lead.tolist()))
    smaller = min(len(fp_lead), len(other_lead))
    lead = common / smaller if smaller else 0.0
    if lead < config.lead_overlap:
        return None
    estimate = overlap(fp.sketch, other, a_chrome=own, b_chrome=theirs)
    containment, shared = estimate.containment, estimate.shared
    if fp.lead_complete if fp.sketch.size <= other.size else bool(record["lc"]):
        # The smaller text is all lead: the exact lead sets measure its
        # containment without sampling error.
        containment, shared = max(containment, lead), max(shared, common)
    if containment < config.containment or shared < MIN_SHARED:
        return None
    return containment


def _lead_without(
    chrome: Flags | None, lead: npt.NDArray[np.uint32], segments: npt.NDArray[np.uint8]
) -> npt.NDArray[np.uint32]:
    """``lead`` less the shingles starting in chrome paragraphs (all of it
    when the segments are unknown: records written before they were stored)."""
    if len(segments) != len(lead):
        return lead
    inside = lead_flags(chrome, segments)
    if inside is None:
        return lead
    kept: npt.NDArray[np.uint32] = lead[~inside]
    return kept


def _chrome(record: Mapping[str, Any]) -> Flags | None:
    """The chrome flags a record carries, one per its paragraphs, or None."""
    packed = record.get("cf")
    if not packed:
        return None
    return _unpack_flags(packed, int(record["ns"]))


@lru_cache(maxsize=4096)
def _unpack_flags(packed: str, count: int) -> Flags:
    bits = np.frombuffer(base64.b64decode(packed), dtype=np.uint8)
    flags: Flags = np.unpackbits(bits, count=count).astype(np.bool_)
    flags.flags.writeable = False
    return flags


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
