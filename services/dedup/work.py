"""The messages between dedup's two agents, and its verdicts, as bytes.

A fingerprinting worker validates each ``news.clean`` message once, as a
:class:`~shared.models.CleanArticle`, and hands the decider a *work* message:
one line of JSON with what the decision reads (the article's fields besides
its text, the broker time it was seen, its fingerprint), a newline, then the
article's original bytes, untouched. The decider does not validate the
article again, and writes the verdict around those same bytes
(:func:`unique_bytes`), so the text is neither re-validated nor re-encoded
on its way through. The header is compact JSON, which never holds a raw
newline, so the first newline ends it.

Work messages of the earlier form (a ``DedupWork`` model, JSON without a
newline) are still read, so workers of two versions can share the topic
during an upgrade.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from services.dedup.decide import (
    Article,
    Decision,
    fingerprint_from_record,
    fingerprint_record,
)
from services.dedup.fingerprint import Fingerprint
from shared import codec
from shared.exceptions import PoisonMessage
from shared.models import CleanArticle, Message, UniqueArticle

__all__ = ["DedupWork", "Work", "decode_work", "encode_work", "unique_bytes"]

# Marks the header of this form of work message; another value is refused.
WORK_FORMAT = 2
_SCHEMA = UniqueArticle.model_fields["schema_version"].default


class DedupWork(Message):
    """The earlier work message: the whole article re-encoded with its fingerprint."""

    article: CleanArticle
    seen_at: datetime
    fingerprint: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Work:
    """A decoded work message: what to decide on, and the article's bytes."""

    article: Article
    fingerprint: Fingerprint
    article_bytes: bytes


def encode_work(raw: bytes, article: CleanArticle, seen_at: datetime, fp: Fingerprint) -> bytes:
    """The work message for ``article`` (whose ``news.clean`` bytes are ``raw``)."""
    header = {
        "w": WORK_FORMAT,
        "id": article.id,
        "url": article.canonical_url,
        "title": article.title,
        "source": article.source_id,
        "seen": seen_at.timestamp(),
        # ISO, not epoch: a naive time must stay naive (its epoch would depend on the zone).
        "pub": article.published_at.isoformat() if article.published_at else None,
        "fp": fingerprint_record(fp),
    }
    return orjson.dumps(header) + b"\n" + raw


def decode_work(data: bytes | None) -> Work:
    """The work in ``data``; :class:`PoisonMessage` for anything else."""
    if not data:
        raise PoisonMessage("invalid-message", "empty work message")
    head, newline, raw = data.partition(b"\n")
    if not newline:
        return _legacy(data)
    try:
        header = orjson.loads(head)
        if header["w"] != WORK_FORMAT:
            raise PoisonMessage("unsupported-schema", f"work format {header['w']!r}")
        text = orjson.loads(raw)["text"]
        if not isinstance(text, str):
            raise TypeError("the article's text is not a string")
        article = Article(
            id=_str(header["id"]),
            canonical_url=_str(header["url"]),
            title=_str(header["title"]),
            text=text,
            source=_str(header["source"]),
            seen_at=_time(header["seen"]),
            published_at=None if header["pub"] is None else datetime.fromisoformat(header["pub"]),
        )
        fp = fingerprint_from_record(header["fp"])
    except PoisonMessage:
        raise
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, OverflowError) as exc:
        raise PoisonMessage("invalid-message", f"bad work message: {exc!r}") from exc
    return Work(article, fp, raw)


def _legacy(data: bytes) -> Work:
    work = codec.decode(DedupWork, data)
    try:
        fp = fingerprint_from_record(work.fingerprint)
    except (KeyError, TypeError, ValueError) as exc:
        raise PoisonMessage("invalid-message", f"bad fingerprint: {exc!r}") from exc
    article = Article.from_clean(work.article, seen_at=work.seen_at)
    return Work(article, fp, codec.encode(work.article))


def unique_bytes(decision: Decision, article_bytes: bytes) -> bytes:
    """The ``news.unique`` message (a :class:`UniqueArticle`) for ``decision``
    on the article whose validated JSON is ``article_bytes``."""
    verdict = orjson.dumps(
        {
            "story_id": decision.story_id,
            "duplicate_of": decision.duplicate_of,
            "similarity": decision.similarity,
        }
    )
    head = orjson.dumps({"schema_version": _SCHEMA, "kind": decision.kind})
    return b"".join((head[:-1], b',"article":', article_bytes, b",", verdict[1:]))


def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {type(value).__name__}")
    return value


def _time(value: Any) -> datetime:
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise TypeError(f"expected epoch seconds, got {type(value).__name__}")
    return datetime.fromtimestamp(value, UTC)
