"""Text fingerprints for duplicate detection, and the comparisons between them.

One :class:`Fingerprint` per article text holds everything dedup needs:

- ``exact_key``: a hash of the folded text (``shared.text.fold_for_hash``), so
  copies that differ only in case, spacing or Unicode form meet;
- ``bands``: bucket keys. ``band:<i>:<hash>`` for the LSH bands of a MinHash
  signature over all the text's shingles, so a near copy shares at least one
  with its original; ``lead:<hash>`` for the anchors of its lead (its first
  :data:`LEAD_UNITS` units of prose), so a teaser sharing a sentence of its
  original's opening shares one too;
- ``sketch``: a bottom-k sample of the shingle hashes, each with the paragraph
  it starts in, from which resemblance (Jaccard) and containment are
  estimated without storing the text;
- ``lead``: the lead's shingle hashes, exactly, each with the paragraph it
  starts in (so a site's lines in the lead can be left out);
- ``facts``: each number with the words around it: a syndicated copy keeps
  its story's figures, a templated story (results, prices, weather) states
  other figures in the same words;
- ``lines``: a hash of each paragraph, by which dedup learns which lines are
  a site's chrome (they turn up in many different stories) and leaves them
  out of containment (see :func:`overlap`).

Units are words, except in scripts written without spaces (Chinese, Japanese,
Thai, Lao, Khmer, Myanmar), where every character is a unit. Number tokens are
kept. Every hash is stable across processes and machines: fingerprints are
stored and compared across workers and restarts, so nothing here may depend on
``PYTHONHASHSEED`` or on a library's random stream. Changing any constant that
shapes a hash requires bumping :data:`FINGERPRINT_VERSION`.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from itertools import chain
from typing import TypeAlias

import numpy as np
import numpy.typing as npt

from shared.text import fold_for_hash

__all__ = [
    "FINGERPRINT_VERSION",
    "Facts",
    "Fingerprint",
    "Hashes",
    "LineHashes",
    "Overlap",
    "Sketch",
    "exact_key",
    "fact_conflicts",
    "fingerprint",
    "overlap",
    "resemblance",
    "set_overlap",
]

Hashes: TypeAlias = npt.NDArray[np.uint32]
# A number fact: hash of its context (the words before and after) in the high
# 32 bits, hash of the number in the low 32; sorted, so grouped by context.
Facts: TypeAlias = npt.NDArray[np.uint64]
# A 64-bit hash per paragraph (0: a paragraph not tracked as a possible line
# of site chrome).
LineHashes: TypeAlias = npt.NDArray[np.uint64]
Flags: TypeAlias = npt.NDArray[np.bool_]
Segments: TypeAlias = npt.NDArray[np.uint8]

# Version of everything that shapes a stored hash (tokeniser, shingle sizes,
# hash constants, band layout); stored with each signature so a change never
# compares incompatible fingerprints.
FINGERPRINT_VERSION = 1

# Word shingles of 3: long enough that unrelated articles on one topic share
# few (common phrases are mostly 2-grams), short enough that an edited word
# spoils only 3 shingles.
WORD_SHINGLE = 3
# Character shingles of 4 in scripts without spaces: about two words of
# Chinese or Japanese, comparable in specificity to 3 English words.
CHAR_SHINGLE = 4
# A character of those scripts carries about half a word; lengths given in
# words are multiplied by this for texts made of characters.
CHARS_PER_WORD = 2

# Texts beyond 1M characters (~170k words, far past any article) are judged by
# their first 1M: bounds the cost of folding and hashing a runaway extraction.
MAX_TEXT_CHARS = 1_000_000
# Near-duplicate fingerprints look at the first 10k units: longer than 99.9%
# of articles, and bounds the work to a few milliseconds per text.
MAX_UNITS = 10_000
# Fewer units than this: exact matching only. Below ~20 words a text is a
# headline, a stub or a paywall notice, where shared wording is not evidence.
MIN_NEAR_UNITS = 20
# Fewer units than this: the exact key includes the title too, because stubs
# ("Watch the video.", "Subscribe to read.") are shared by unrelated articles.
MIN_TEXT_ONLY_UNITS = MIN_NEAR_UNITS

# The lead: the first 48 units of the prose paragraphs, i.e. one or two
# opening sentences. A prose paragraph has at least 8 units and ends like a
# sentence (or is long): lines at the top that do not (headlines, datelines,
# bylines, "Advertisement", share buttons) are not the story.
LEAD_UNITS = 48
LEAD_PARAGRAPH_MIN_UNITS = 8
# Anchors: of the lead's 5-unit shingles, the least hash of every 8 in a row
# (winnowing), about 10 per text. Two texts sharing any run of 12 units in
# their leads share an anchor, whatever precedes it (a headline, a dateline).
ANCHOR_SHINGLE = 5
ANCHOR_WINDOW = 8
# Paragraphs under 20 units are short: news paragraphs run 25-40 words, while
# the lines a site adds (newsletter, share, copyright, "read more") are
# shorter. Where a site adds lines, a short paragraph sharing almost nothing
# with the other text is not held against containment (see _containment).
SHORT_PARAGRAPH_UNITS = 20
# A short paragraph with under a quarter of its shingles in the other text is
# an added line (a few incidental shared phrases allowed).
FOREIGN_SHARE = 0.25
# Paragraph indexes are stored in a byte; later paragraphs share the last one.
MAX_SEGMENTS = 256
# Paragraphs of up to 64 units are tracked as possible site chrome: newsletter,
# share, copyright and "read more" lines, author bios and disclaimers are
# shorter; a longer paragraph is taken as content, and not worth the state.
CHROME_MAX_UNITS = 64

# Bottom-k sketch size: 512 shingle hashes (2 KiB) estimates resemblance to
# about +-0.02, and is exact for texts under ~500 words.
SKETCH_SIZE = 512
# Number facts kept per text: more than an ordinary article states.
MAX_FACTS = 64

# LSH layout, for both signatures: 24 bands of 3 rows (72 hashes). A pair is
# a candidate with probability 1-(1-J^3)^24: 0.96 at J=0.5, 0.79 at J=0.4,
# 0.001 at J=0.04 (unrelated texts), so few false candidates reach checking.
BANDS = 24
ROWS = 3

_CONTINUA = (
    "\u0e00-\u0eff"  # Thai, Lao
    "\u1000-\u109f"  # Myanmar
    "\u1780-\u17ff"  # Khmer
    "\u3040-\u30ff\u31f0-\u31ff"  # Hiragana, Katakana
    "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"  # CJK ideographs
    "\uff66-\uff9f"  # half-width Katakana
    "\U00020000-\U0003134f"  # CJK extensions B-H
)
# Combining marks that Python's \w leaves out but that belong inside a word:
# Latin diacritics (when not precomposed), Hebrew and Arabic points, and the
# Indic blocks (vowel signs are marks there).
_MARKS = "\u0300-\u036f\u0591-\u05c7\u064b-\u065f\u0670\u0900-\u0963\u0966-\u0dff"
_ASCII_TOKEN = re.compile(r"\w+", re.ASCII)
_TOKEN = re.compile(f"[{_CONTINUA}]|(?:[^\\W{_CONTINUA}]|[{_MARKS}])+")
_CONTINUA_CHAR = re.compile(f"[{_CONTINUA}]")
# How a sentence ends, closing quotes and brackets allowed after the mark.
_SENTENCE_END = re.compile("[.!?\u2026\u3002\uff01\uff1f][\"'\u201d\u2019\u00bb)\\]]*\\s*$")
# Soft hyphen, zero-width space/joiners, word joiner, BOM: not text.
_INVISIBLE = re.compile("[\u00ad\u200b-\u200d\u2060\ufeff]")

_U32 = np.uint64(32)
_MASK64 = (1 << 64) - 1
_MAX32 = 0xFFFFFFFF


def _splitmix64(seed: int) -> Iterator[int]:
    """An endless stream of 64-bit values from ``seed`` (SplitMix64): a fixed,
    library-independent source for the hash constants below."""
    state = seed
    while True:
        state = (state + 0x9E3779B97F4A7C15) & _MASK64
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
        yield z ^ (z >> 31)


def _constants(seed: int, count: int, *, odd: bool) -> npt.NDArray[np.uint64]:
    stream = _splitmix64(seed)
    values = [next(stream) | (1 if odd else 0) for _ in range(count)]
    return np.array(values, dtype=np.uint64)


_PERMS = BANDS * ROWS
# Multiply-shift hash family: h(x) = (a*x + b) mod 2^64, top 32 bits. With
# odd a this is a good approximation of random permutations for MinHash.
_FULL_A = _constants(1, _PERMS, odd=True)
_FULL_B = _constants(2, _PERMS, odd=False)
# Position multipliers that combine a shingle's token hashes into one value.
_SHINGLE_MULT = _constants(5, ANCHOR_SHINGLE * CHARS_PER_WORD, odd=True)
# Combines a band's rows into one value, so band keys are short.
_BAND_MULT = _constants(6, ROWS, odd=True)


@dataclass(frozen=True, slots=True, eq=False)
class Sketch:
    """A bottom-k sample of a text's distinct shingle hashes.

    ``hashes`` are the :data:`SKETCH_SIZE` smallest, sorted; ``segments[i]``
    is the paragraph in which ``hashes[i]`` first starts; ``short[p]`` says
    paragraph ``p`` is short (see :data:`SHORT_PARAGRAPH_UNITS`); ``size`` is
    the number of distinct shingles in the whole text.
    """

    hashes: Hashes
    segments: Segments
    short: Flags
    size: int

    @classmethod
    def empty(cls) -> Sketch:
        return cls(np.zeros(0, np.uint32), np.zeros(0, np.uint8), np.zeros(0, np.bool_), 0)


@dataclass(frozen=True, slots=True, eq=False)
class Fingerprint:
    """Everything dedup compares about one text (see the module docstring).

    ``bands`` is empty when the text is too short for near matching;
    ``exact_key`` is None when there is no text (and no title) at all.
    ``lead_complete`` says the lead holds all of the text's prose (the text
    is no longer than its lead); ``lead_segments[i]`` is the paragraph in which
    ``lead[i]`` first starts. ``lines[p]`` is the hash of paragraph ``p``
    (one per sketch segment; 0 where the paragraph is too long to be site
    chrome, and for the segment holding all paragraphs past
    :data:`MAX_SEGMENTS`); empty when the text is too short for near matching.
    """

    exact_key: str | None
    units: int
    sketch: Sketch
    lead: Hashes
    lead_complete: bool
    facts: Facts
    bands: tuple[str, ...]
    lines: LineHashes = field(default_factory=lambda: _NO_LINES)
    lead_segments: Segments = field(default_factory=lambda: _NO_SEGMENTS)

    @property
    def near_eligible(self) -> bool:
        """Whether this text takes part in near-duplicate matching."""
        return bool(self.bands)


@dataclass(frozen=True, slots=True)
class Overlap:
    """How two shingle sets overlap, estimated from their sketches.

    ``resemblance`` is Jaccard: shared shingles over the distinct shingles of
    both. ``containment`` is the share of the smaller text's shingles (by true
    size) found in the larger, leaving out its short paragraphs that the
    larger does not have and its paragraphs known to be site chrome: 1.0 when
    one text is a truncated or trimmed copy of the other, with or without
    lines a site added. ``shared`` estimates how many of the smaller text's
    shingles, site chrome left out, the larger has.
    """

    resemblance: float
    containment: float
    shared: float = 0.0


def exact_key(text: str, title: str = "") -> str | None:
    """The exact-duplicate key: sha256 (32 hex digits) of the folded text.

    Texts shorter than :data:`MIN_TEXT_ONLY_UNITS` units are keyed by title and
    text together, so unrelated stubs do not collapse into one. None when both
    are empty after folding: such an article has no content to compare.
    """
    units = sum(len(p) for p in _tokenised_paragraphs(text[:MAX_TEXT_CHARS])[0])
    return _exact_key(text, title, units)


def _exact_key(text: str, title: str, units: int) -> str | None:
    folded = fold_for_hash(text[:MAX_TEXT_CHARS])
    if units < MIN_TEXT_ONLY_UNITS:
        folded = f"{fold_for_hash(title)}\n{folded}".strip()
    if not folded:
        return None
    return hashlib.sha256(folded.encode("utf-8")).hexdigest()[:32]


def fingerprint(text: str, *, title: str = "") -> Fingerprint:
    """The fingerprint of ``text`` (``title`` only matters for short texts).

    Total: any string, including empty, enormous or unusual ones, gives a
    fingerprint; the work is bounded by :data:`MAX_TEXT_CHARS` and
    :data:`MAX_UNITS`.
    """
    paragraphs, sentences = _tokenised_paragraphs(text[:MAX_TEXT_CHARS])
    units = list(chain.from_iterable(paragraphs))
    key = _exact_key(text, title, len(units))
    facts = _number_facts(units)
    char_mode = _is_char_text(text, units)
    scale = CHARS_PER_WORD if char_mode else 1
    if len(units) < MIN_NEAR_UNITS * scale:
        return Fingerprint(key, len(units), Sketch.empty(), _NO_HASHES, False, facts, (), _NO_LINES)
    k = CHAR_SHINGLE if char_mode else WORD_SHINGLE
    shingles = _shingle_hashes(_token_hashes(units), k)
    sketch, distinct = _sketch(shingles, paragraphs, SHORT_PARAGRAPH_UNITS * scale)
    lead_units, lead_places = _lead(
        paragraphs,
        sentences,
        LEAD_UNITS * scale,
        LEAD_PARAGRAPH_MIN_UNITS * scale,
        SHORT_PARAGRAPH_UNITS * scale,
    )
    lead_tokens = _token_hashes(lead_units)
    lead, first = np.unique(_top32(_shingle_hashes(lead_tokens, k)), return_index=True)
    bands = (
        *_band_keys("band", _minhash(distinct, _FULL_A, _FULL_B)),
        *_anchor_keys(_shingle_hashes(lead_tokens, ANCHOR_SHINGLE * scale)),
    )
    return Fingerprint(
        exact_key=key,
        units=len(units),
        sketch=sketch,
        lead=lead,
        lead_complete=len(lead_units) < LEAD_UNITS * scale,
        facts=facts,
        bands=bands,
        lines=_line_hashes(paragraphs, CHROME_MAX_UNITS * scale),
        lead_segments=lead_places[first].astype(np.uint8),
    )


def resemblance(
    a: Sketch, b: Sketch, *, a_chrome: Flags | None = None, b_chrome: Flags | None = None
) -> float:
    """Jaccard resemblance of two texts (shared over all distinct shingles),
    estimated from their sketches: exact when both fit their sketches.

    Both sketches are complete below the smaller of their largest kept hashes,
    so the sets restricted to that range are an unbiased sample. Shingles
    starting in paragraphs flagged as site chrome (``a_chrome``, ``b_chrome``:
    one flag per paragraph) in either text are left out of both sets: the
    flags of one text suffice to take out what chrome the two share.
    """
    a_kept, b_kept = _common_range(a, b)
    dropped = np.sort(
        np.concatenate(
            (_chrome_shingles(a, a_kept, a_chrome), _chrome_shingles(b, b_kept, b_chrome))
        )
    )
    if len(dropped):
        a_kept = a_kept[~_member(a_kept, dropped)]
        b_kept = b_kept[~_member(b_kept, dropped)]
    if not len(a_kept) or not len(b_kept):
        return 0.0
    common = int(_member(a_kept, b_kept).sum())
    return common / (len(a_kept) + len(b_kept) - common)


def overlap(
    a: Sketch, b: Sketch, *, a_chrome: Flags | None = None, b_chrome: Flags | None = None
) -> Overlap:
    """Resemblance and containment of two texts from their sketches.

    Containment is taken in whichever direction is higher: a teaser wrapped
    in a site's lines can hold more shingles than the short text it copies.
    ``a_chrome[p]`` (``b_chrome[p]``) says paragraph ``p`` of ``a`` (``b``)
    is known site chrome: it is left out of containment, found or not, as
    evidence of neither a copy nor another story.
    """
    a_kept, b_kept = _common_range(a, b)
    if not len(a_kept) or not len(b_kept):
        return Overlap(0.0, 0.0)
    a_hits = _member(a_kept, b_kept)
    common = int(a_hits.sum())
    best = max(
        _contained(a, a_kept, a_hits, a_chrome),
        _contained(b, b_kept, _member(b_kept, a_kept), b_chrome),
    )
    return Overlap(
        resemblance=common / (len(a_kept) + len(b_kept) - common),
        containment=best[0],
        shared=best[1],
    )


def _contained(
    sketch: Sketch, kept: Hashes, hits: Flags, chrome: Flags | None
) -> tuple[float, float]:
    """(containment, estimated shingles found) of one text in another, from
    its ``kept`` sample and which of them the other has (``hits``)."""
    found, counted = _containment(hits, sketch.segments[: len(kept)], sketch.short, chrome)
    return (found / counted if counted else 0.0), found * sketch.size / len(kept)


def set_overlap(a: Hashes, b: Hashes) -> float:
    """|A∩B| / min(|A|, |B|) for two exact sets (0.0 if either is empty)."""
    if not len(a) or not len(b):
        return 0.0
    return len(set(a.tolist()).intersection(b.tolist())) / min(len(a), len(b))


def fact_conflicts(a: Facts, b: Facts) -> tuple[int, int]:
    """(contexts both texts state a number in, those where no number agrees).

    "rose _ percent" with 2.1 in one text and 3.4 in the other is a conflict;
    a figure only one text states (a teaser's cut, a site's phone number) is
    not. Sampled fact sets are compared over their common context range.
    """
    if not len(a) or not len(b):
        return 0, 0
    limit = min(_fact_limit(a), _fact_limit(b))
    a_kept = [fact for fact in a.tolist() if fact <= limit]
    b_kept = [fact for fact in b.tolist() if fact <= limit]
    shared = {fact >> 32 for fact in a_kept}.intersection(fact >> 32 for fact in b_kept)
    agreeing = {fact >> 32 for fact in set(a_kept).intersection(b_kept)}
    return len(shared), len(shared) - len(agreeing)


# --- units ------------------------------------------------------------------------


def _tokenised_paragraphs(text: str) -> tuple[list[list[str]], list[bool]]:
    """Units per non-empty paragraph, at most :data:`MAX_UNITS` in all, and
    whether each paragraph ends like a sentence."""
    paragraphs: list[list[str]] = []
    sentences: list[bool] = []
    budget = MAX_UNITS
    for line in text.splitlines():
        # A unit takes at least one character and a separator; slicing keeps a
        # single enormous paragraph from being tokenised in full.
        units = _units(line if len(line) <= budget * 32 else line[: budget * 32])[:budget]
        if units:
            paragraphs.append(units)
            sentences.append(_SENTENCE_END.search(line) is not None)
            budget -= len(units)
        if budget <= 0:
            break
    return paragraphs, sentences


def _units(paragraph: str) -> list[str]:
    """Case- and compatibility-folded units of one paragraph (invisible
    characters such as soft hyphens do not split a word)."""
    if paragraph.isascii():
        return _ASCII_TOKEN.findall(paragraph.lower())
    visible = _INVISIBLE.sub("", paragraph)
    return _TOKEN.findall(unicodedata.normalize("NFKC", visible).casefold())


def _is_char_text(text: str, units: Sequence[str]) -> bool:
    """True when most units are characters of a script written without spaces."""
    if text.isascii():
        return False
    return 2 * len(_CONTINUA_CHAR.findall(text[:MAX_TEXT_CHARS])) > len(units)


def _lead(
    paragraphs: Sequence[Sequence[str]],
    sentences: Sequence[bool],
    length: int,
    min_units: int,
    long_units: int,
) -> tuple[list[str], npt.NDArray[np.int64]]:
    """The first ``length`` units of the prose paragraphs: those of at least
    ``min_units`` units that end like a sentence, or of at least ``long_units``
    (all paragraphs, if none is prose); and the sketch segment of each."""
    body = [
        i
        for i, (p, sentence) in enumerate(zip(paragraphs, sentences, strict=True))
        if len(p) >= (min_units if sentence else long_units)
    ] or range(len(paragraphs))
    lead: list[str] = []
    places: list[int] = []
    for i in body:
        taken = paragraphs[i][: length - len(lead)]
        lead.extend(taken)
        places.extend([min(i, MAX_SEGMENTS - 1)] * len(taken))
        if len(lead) >= length:
            break
    return lead, np.array(places, dtype=np.int64)


def _number_facts(units: Sequence[str]) -> Facts:
    """The first :data:`MAX_FACTS` (by context hash) number facts of ``units``.

    A run of number units is one number ("7,532.1" is three units); its
    context is the nearest unit on each side.
    """
    # A unit sorts before ":" exactly when it starts with an ASCII digit.
    numeric = [i for i, unit in enumerate(units) if unit < ":"]
    facts: set[int] = set()
    start = 0
    while start < len(numeric):
        end = start
        while end + 1 < len(numeric) and numeric[end + 1] == numeric[end] + 1:
            end += 1
        first, last = numeric[start], numeric[end]
        before = units[first - 1] if first > 0 else ""
        after = units[last + 1] if last + 1 < len(units) else ""
        number = ".".join(units[first : last + 1])
        context = zlib.crc32(f"{before} {after}".encode())
        facts.add(context << 32 | zlib.crc32(number.encode()))
        start = end + 1
    return np.array(sorted(facts)[:MAX_FACTS], dtype=np.uint64)


# --- hashes -----------------------------------------------------------------------

_NO_HASHES: Hashes = np.zeros(0, dtype=np.uint32)
_NO_LINES: LineHashes = np.zeros(0, dtype=np.uint64)
_NO_SEGMENTS: Segments = np.zeros(0, dtype=np.uint8)
_blake2b = hashlib.blake2b


def _line_hashes(paragraphs: Sequence[Sequence[str]], max_units: int) -> LineHashes:
    """Per sketch segment, a 64-bit hash of the paragraph's units (never 0),
    or 0 for a paragraph longer than ``max_units`` and for the last segment
    when it holds several paragraphs."""
    values = [
        int.from_bytes(_blake2b(" ".join(units).encode(), digest_size=8).digest(), "little") or 1
        if len(units) <= max_units
        else 0
        for units in paragraphs[:MAX_SEGMENTS]
    ]
    if len(paragraphs) > MAX_SEGMENTS:
        values[-1] = 0
    return np.array(values, dtype=np.uint64)


def _token_hashes(units: Sequence[str]) -> npt.NDArray[np.uint64]:
    """A stable 32-bit hash per unit (CRC-32 of its UTF-8), as uint64 for mixing."""
    return np.fromiter(map(zlib.crc32, map(str.encode, units)), dtype=np.uint64, count=len(units))


def _mix(values: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """SplitMix64's finaliser, in place: spreads every input bit over all 64."""
    values ^= values >> np.uint64(30)
    values *= np.uint64(0xBF58476D1CE4E5B9)
    values ^= values >> np.uint64(27)
    values *= np.uint64(0x94D049BB133111EB)
    values ^= values >> np.uint64(31)
    return values


def _shingle_hashes(tokens: npt.NDArray[np.uint64], k: int) -> npt.NDArray[np.uint64]:
    """64-bit hash of each k-unit shingle, in text order (a single shingle of
    all units when there are fewer than k)."""
    count = max(len(tokens) - k + 1, 1)
    combined = np.zeros(count, dtype=np.uint64)
    for offset in range(min(k, len(tokens))):
        combined += tokens[offset : offset + count] * _SHINGLE_MULT[offset]
    return _mix(combined)


def _sketch(
    shingles: npt.NDArray[np.uint64], paragraphs: Sequence[Sequence[str]], short_units: int
) -> tuple[Sketch, npt.NDArray[np.uint64]]:
    """The text's sketch, and all its distinct 32-bit shingle hashes (as uint64)."""
    distinct, first = np.unique(_top32(shingles), return_index=True)
    lengths = np.array([len(p) for p in paragraphs[:MAX_SEGMENTS]], dtype=np.int64)
    starts = np.cumsum(lengths) - lengths
    kept = first[:SKETCH_SIZE]
    segments = (np.searchsorted(starts, kept, side="right") - 1).astype(np.uint8)
    short = lengths < short_units
    if len(paragraphs) > MAX_SEGMENTS:
        short[-1] = False  # the last segment holds all later paragraphs
    sketch = Sketch(distinct[:SKETCH_SIZE], segments, short, len(distinct))
    return sketch, distinct.astype(np.uint64)


def _common_range(a: Sketch, b: Sketch) -> tuple[Hashes, Hashes]:
    """Both sketches cut to the hash range in which both are complete."""
    limit = min(_limit(a.hashes, SKETCH_SIZE), _limit(b.hashes, SKETCH_SIZE))
    a_end = int(np.searchsorted(a.hashes, limit, side="right"))
    b_end = int(np.searchsorted(b.hashes, limit, side="right"))
    return a.hashes[:a_end], b.hashes[:b_end]


def _chrome_shingles(sketch: Sketch, kept: Hashes, chrome: Flags | None) -> Hashes:
    """The shingles of ``kept`` (a prefix of the sketch) that start in chrome."""
    if chrome is None or len(chrome) != len(sketch.short) or not chrome.any():
        return _NO_HASHES
    found: Hashes = kept[chrome[sketch.segments[: len(kept)]]]
    return found


def _member(values: Hashes, sorted_set: Hashes) -> Flags:
    """For each of ``values``, whether it is in ``sorted_set`` (sorted, non-empty)."""
    at = np.searchsorted(sorted_set, values)
    at[at == len(sorted_set)] = 0
    hits: Flags = sorted_set[at] == values
    return hits


def _containment(
    hits: Flags, segments: Segments, short: Flags, chrome: Flags | None = None
) -> tuple[int, int]:
    """(sampled shingles found in the other text, sampled shingles counted).

    Paragraphs known to be site chrome are not counted at all. Short
    paragraphs foreign to the other text (see :data:`FOREIGN_SHARE`) are not
    counted where a site puts its lines: before the first shared paragraph or
    after the last (newsletter, share, copyright, "read more" lines), or alone
    between shared ones (advertising markers). A run of foreign paragraphs
    inside the text is content, and so is the whole text when the excused
    lines outweigh the rest.
    """
    sampled = np.bincount(segments, minlength=len(short))
    found = np.bincount(segments[hits], minlength=len(short))
    if chrome is not None and len(chrome) == len(short):
        sampled[chrome] = 0
        found[chrome] = 0
    excused = _site_lines(found < FOREIGN_SHARE * sampled, sampled > 0, short)
    counted = int(sampled[~excused].sum())
    if counted < int(sampled[excused].sum()):
        return int(found.sum()), int(sampled.sum())
    return int(found[~excused].sum()), counted


def _site_lines(foreign: Flags, seen: Flags, short: Flags) -> Flags:
    """Which foreign paragraphs are short and placed like lines a site adds
    (see :func:`_containment`); paragraphs without samples are skipped over."""
    order = np.flatnonzero(seen)
    alien = foreign[order]
    excused = np.zeros(len(short), dtype=np.bool_)
    if alien.all() or not (alien & short[order]).any():
        return excused
    shared = np.flatnonzero(~alien)
    position = np.arange(len(order))
    outside = (position < shared[0]) | (position > shared[-1])
    before = np.concatenate(([False], alien[:-1]))
    after = np.concatenate((alien[1:], [False]))
    alone = ~before & ~after
    excused[order] = alien & short[order] & (outside | alone)
    return excused


def _minhash(
    values: npt.NDArray[np.uint64], a: npt.NDArray[np.uint64], b: npt.NDArray[np.uint64]
) -> Hashes:
    """MinHash signature: per hash function, the least top-32-bits of a*x+b.

    The top bits are monotone in the full value, so the minimum is taken on the
    64-bit products and shifted once.
    """
    products = np.multiply.outer(values, a)
    products += b
    minima: npt.NDArray[np.uint64] = products.min(axis=0)
    return _top32(minima)


def _anchor_keys(shingles: npt.NDArray[np.uint64]) -> list[str]:
    """``lead:<hash>`` for the winnowed anchors of the lead's shingles."""
    windows = len(shingles) - ANCHOR_WINDOW + 1
    if windows > 1:
        least = shingles[:windows].copy()
        for offset in range(1, ANCHOR_WINDOW):
            np.minimum(least, shingles[offset : offset + windows], out=least)
        shingles = least
    else:
        shingles = shingles.min(keepdims=True)
    return [f"lead:{value >> 16:012x}" for value in np.unique(shingles).tolist()]


def _band_keys(prefix: str, signature: Hashes) -> list[str]:
    """``<prefix>:<band>:<hash of the band's rows>`` for every band."""
    rows = signature.astype(np.uint64).reshape(BANDS, ROWS)
    combined = _mix((rows * _BAND_MULT).sum(axis=1, dtype=np.uint64))
    return [f"{prefix}:{band}:{value:016x}" for band, value in enumerate(combined.tolist())]


def _top32(values: npt.NDArray[np.uint64]) -> Hashes:
    return (values >> _U32).astype(np.uint32)


def _limit(values: Hashes, capacity: int) -> int:
    """Largest value below which a bottom-``capacity`` sample holds every element."""
    return int(values[-1]) if len(values) >= capacity else _MAX32


def _fact_limit(facts: Facts) -> int:
    """Largest fact up to which ``facts`` holds every fact of its text: a full
    set may have lost facts in the context of its last one, so that context is
    left out."""
    return ((int(facts[-1]) >> 32) << 32) - 1 if len(facts) >= MAX_FACTS else _MASK64
