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

__all__ = ["UrlVerdict", "TextVerdict", "url_verdict", "text_verdict", "text_key"]


@dataclass(frozen=True)
class UrlVerdict:
    """What to do with an article after looking up its URL.

    ``state`` is the new table entry (None: leave it); ``output`` is a message
    to emit now; ``check_text`` says the article goes on to the text check.
    """

    state: dict[str, Any] | None
    output: UniqueArticle | None
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

    First sight of a URL: remember it and go on to the text check. The same
    URL again from a source already counted: a redelivery or a re-fetch, so
    nothing is emitted. From a new source: an exact duplicate that only adds
    the source to the document's coverage.
    """
    if entry is None:
        return UrlVerdict({"sources": [article.source_id]}, None, check_text=True)
    sources: list[str] = list(entry.get("sources", []))
    if article.source_id in sources:
        return UrlVerdict(None, None, check_text=False)
    sources.append(article.source_id)
    output = UniqueArticle(
        kind="exact", article=article, story_id=entry.get("story_id") or article.id,
        duplicate_of=article.id, similarity=1.0,
    )
    return UrlVerdict({**entry, "sources": sources}, output, check_text=False)


def text_verdict(article: CleanArticle, entry: dict[str, Any] | None) -> TextVerdict:
    """Decide on ``article`` given the text table's ``entry`` for its text.

    The first article with a text owns it and is unique; a later article with
    the same text (another URL) is an exact duplicate of the first. A
    redelivery of the first article is emitted again as unique: the indexer's
    create-by-id makes that harmless.
    """
    if entry is None or entry.get("id") == article.id:
        state = entry or {"id": article.id, "story_id": article.id, "sources": [article.source_id]}
        return TextVerdict(state, UniqueArticle(kind="unique", article=article, story_id=article.id))
    sources = list(entry.get("sources", []))
    if article.source_id not in sources:
        sources.append(article.source_id)
    output = UniqueArticle(
        kind="exact", article=article, story_id=entry["story_id"],
        duplicate_of=entry["id"], similarity=1.0,
    )
    return TextVerdict({**entry, "sources": sources}, output)
