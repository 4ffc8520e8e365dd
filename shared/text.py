"""Text normalisation shared by the cleaner (article text) and dedup (exact-text keys).

``normalise`` is the one canonical form of article text: what the cleaner
emits, what Elasticsearch indexes and what ``fold_for_hash`` starts from, so
two copies of one text always meet on the same string.
"""

from __future__ import annotations

import html
import re
import unicodedata

__all__ = ["fold_for_hash", "join_paragraphs", "normalise", "split_paragraphs", "word_count"]

# Invisible characters that only steer line breaking; they carry no text and
# make equal words compare unequal. ZWJ and ZWNJ (U+200C/U+200D) are kept by
# ``normalise`` because they shape Persian and Indic words and emoji sequences;
# ``fold_for_hash`` drops them as well.
# (Regexes, not str.translate: translate looks every character up in a dict.)
_INVISIBLE = re.compile("[\u00ad\u200b\u2060\ufeff\u180e\u2061-\u2064]")
_JOINERS = re.compile("[\u200c\u200d]")

# Every line-ending convention (CRLF, CR, NEL, LS, VT, FF) becomes "\n"; the
# Unicode paragraph separator becomes a blank line.
_LINE_BREAKS = re.compile(r"\r\n|[\r\x0b\x0c\x85\u2028]")
_PARAGRAPH_SEPARATOR = "\u2029"

# C0/C1 control characters other than tab and newline: never text, sometimes
# left by a wrong charset or a binary fragment.
_CONTROLS = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x84\x86-\x9f]")

# Whitespace inside a line: any Unicode space (NBSP, thin space, tab…).
_INLINE_SPACE = re.compile(r"[^\S\n]+")
_BLANK_RUN = re.compile(r"\n{3,}")


def normalise(text: str) -> str:
    """Return ``text`` in newsflow's canonical form.

    Promises: Unicode NFC; HTML entities decoded; soft hyphens, zero-width
    spaces, word joiners and BOMs removed; control characters removed; every
    run of whitespace inside a line is one ASCII space and lines carry no
    leading or trailing space; line breaks are ``"\\n"``; paragraphs (blocks
    separated by one or more blank lines) are separated by exactly one blank
    line; no leading or trailing blank lines. Typographic quotes, dashes and
    ellipses are left as they are. Idempotent on text without entity-like
    sequences (entities are decoded once per call, so "&amp;lt;" loses one level).
    """
    # Entities first: "&shy;" or "&#8203;" must be removed like the characters.
    text = html.unescape(text) if "&" in text else text
    return _normalise_layout(text)


def _normalise_layout(text: str) -> str:
    """``normalise`` without entity decoding, for text that is already decoded."""
    text = unicodedata.normalize("NFC", text)
    text = _INVISIBLE.sub("", text)
    text = text.replace(_PARAGRAPH_SEPARATOR, "\n\n")
    text = _LINE_BREAKS.sub("\n", text)
    text = _CONTROLS.sub("", text)
    text = _INLINE_SPACE.sub(" ", text)
    lines = [line.strip() for line in text.split("\n")]
    text = "\n".join(lines).strip("\n")
    return _BLANK_RUN.sub("\n\n", text)


def fold_for_hash(text: str) -> str:
    """Return the key under which two texts count as the same text.

    Promises: ``normalise`` applied, then case folded, ZWJ/ZWNJ dropped and all
    whitespace (line and paragraph breaks included) reduced to single spaces;
    so texts differing only in case, spacing, paragraphing, entities or
    invisible characters get the same key.
    """
    # Only normalise's character-level steps, in its order: whatever it does to
    # the layout, the whitespace fold below undoes (the same key for a third of
    # the work; ``str.split`` and ``\s`` agree on what is whitespace).
    text = html.unescape(text) if "&" in text else text
    text = _INVISIBLE.sub("", unicodedata.normalize("NFC", text))
    folded = _JOINERS.sub("", _CONTROLS.sub("", text).casefold())
    return " ".join(folded.split())


def split_paragraphs(text: str) -> list[str]:
    """Split normalised ``text`` into its paragraphs (blocks between blank lines)."""
    return [p for p in text.split("\n\n") if p]


def join_paragraphs(paragraphs: list[str]) -> str:
    """Join normalised paragraphs into normalised text, one blank line apart.

    Each paragraph must already be normalised (as ``split_paragraphs`` or
    ``normalise`` return them); empty ones are skipped. Entities are not
    decoded again, so a paragraph quoting "&amp;" keeps it.
    """
    return "\n\n".join(p for p in paragraphs if p)


def word_count(text: str) -> int:
    """Number of whitespace-separated words in ``text``."""
    return len(text.split())
