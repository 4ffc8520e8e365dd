"""Exact duplicates: the same canonical URL, or the same normalised text.

Pure functions over one table entry each, so the service (Faust tables) and
tests (plain values) run the same decisions. An entry is a JSON-able dict,
because Faust tables keep their changelog as JSON.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from shared.models import CleanArticle, UniqueArticle
from shared.text import fold_for_hash

__all__ = ["TextVerdict", "UrlVerdict", "text_key", "text_verdict", "url_verdict"]


@dataclass(frozen=True)
class UrlVerdict:
    """What to do with an article after looking up its URL.

    ``state`` is the new table entry (None: leave it); ``check_text`` says the
    article goes on to the text check (otherwise it is dropped).
    """

    state: dict[str, Any] | None
    check_text: bool


@dataclass(frozen=True)
class TextVerdict:
    state: dict[str, Any]
    output: UniqueArticle


def text_key(article: CleanArticle) -> str:
    """The exact-text fingerprint: sha256 of the folded text (case and spacing ignored)."""
    return hashlib.sha256(fold_for_hash(article.text).encode("utf-8")).hexdigest()[:32]


def url_verdict(article: CleanArticle, entry: dict[str, Any] | None) -> UrlVerdict:
    """Decide on ``article`` given the URL table's ``entry`` for its id.

    The same URL again from a source already counted is a redelivery or a
    re-fetch: nothing is emitted. Otherwise the article goes on to the text
    check, which knows which document owns its text (first sight of a URL, or
    the same URL from another source, which only adds to coverage).
    """
    sources: list[str] = list((entry or {}).get("sources", []))
    if article.source_id in sources:
        return UrlVerdict(None, check_text=False)
    sources.append(article.source_id)
    return UrlVerdict({**(entry or {}), "sources": sources}, check_text=True)


def text_verdict(article: CleanArticle, entry: dict[str, Any] | None) -> TextVerdict:
    """Decide on ``article`` given the text table's ``entry`` for its text.

    The first article with a text owns it and is unique. Any other article
    with the same text is an exact duplicate of the owner (another URL, or the
    owner's URL from another source) and only adds to its coverage. A
    redelivery of the owner is emitted again as unique: the indexer's
    create-by-id makes that harmless.
    """
    if entry is None:
        state = {"id": article.id, "story_id": article.id, "sources": [article.source_id]}
        return TextVerdict(
            state, UniqueArticle(kind="unique", article=article, story_id=article.id)
        )
    sources = list(entry.get("sources", []))
    if entry.get("id") == article.id and article.source_id in sources:
        return TextVerdict(
            entry, UniqueArticle(kind="unique", article=article, story_id=entry["story_id"])
        )
    if article.source_id not in sources:
        sources.append(article.source_id)
    output = UniqueArticle(
        kind="exact",
        article=article,
        story_id=entry["story_id"],
        duplicate_of=entry["id"],
        similarity=1.0,
    )
    return TextVerdict({**entry, "sources": sources}, output)
