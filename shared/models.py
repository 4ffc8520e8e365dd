"""Messages: one frozen pydantic model per topic, JSON on the wire.

Every model carries ``schema_version`` so a consumer can tell an old message
from a new one. A change that breaks old readers bumps the version.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "CleanArticle",
    "Coverage",
    "DeadLetter",
    "FeedSource",
    "Message",
    "RawArticle",
    "UniqueArticle",
]


class Message(BaseModel):
    """Base of every message: immutable, unknown fields refused."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: int = 1


class FeedSource(Message):
    """One configured source; the value of a ``news.feeds`` record (key = ``id``)."""

    id: str = Field(min_length=1, max_length=200)
    kind: str = Field(min_length=1, description="name of a `newsflow.sources` entry point")
    url: str = Field(min_length=1)
    name: str = ""
    enabled: bool = True
    interval_s: float = Field(default=300.0, gt=0)
    options: dict[str, Any] = Field(default_factory=dict)


class RawArticle(Message):
    """A fetched article page, as the fetcher got it; ``news.raw``."""

    id: str = Field(description="article id: hash of the canonical form of `url`")
    source_id: str
    source_kind: str
    url: str = Field(description="the item's link as the source gave it")
    final_url: str = Field(description="the URL after redirects")
    fetched_at: datetime
    content_type: str = "text/html"
    body_kind: Literal["html", "text"] = "html"
    body: str
    http_status: int = 200
    feed_title: str | None = None
    feed_published_at: datetime | None = None
    guid: str | None = None


class CleanArticle(Message):
    """An article reduced to its text and metadata; ``news.clean``."""

    id: str
    source_id: str
    url: str
    canonical_url: str
    fetched_at: datetime
    title: str
    text: str
    authors: list[str] = Field(default_factory=list)
    published_at: datetime | None = None
    modified_at: datetime | None = None
    language: str | None = None
    site_name: str | None = None
    description: str | None = None
    image: str | None = None
    section: str | None = None
    tags: list[str] = Field(default_factory=list)
    word_count: int = 0
    extractor: str = ""
    extractor_version: str = ""
    flags: list[str] = Field(
        default_factory=list, description="quality notes, e.g. 'truncated-input'"
    )


class Coverage(Message):
    """Who carried a story: updated on the story's first article."""

    sources: list[str] = Field(default_factory=list)
    count: int = 1
    first_seen: datetime | None = None
    last_seen: datetime | None = None


class UniqueArticle(Message):
    """Dedup's verdict on one clean article; ``news.unique``.

    ``kind`` says what the indexer does: ``unique`` and ``near`` create a
    document (a near duplicate shares its story's ``story_id``); ``exact``
    creates nothing and only adds the article's source to the coverage of
    ``duplicate_of``.
    """

    kind: Literal["unique", "near", "exact"]
    article: CleanArticle
    story_id: str
    duplicate_of: str | None = None
    similarity: float | None = None


class DeadLetter(Message):
    """A message some stage could not process; ``news.deadletter``."""

    stage: str
    reason: str = Field(description="short machine-readable cause, e.g. 'invalid-message'")
    error: str = Field(description="the human-readable error")
    topic: str | None = None
    partition: int | None = None
    offset: int | None = None
    key: str | None = None
    original: str = Field(description="the original bytes, base64")
    at: datetime
