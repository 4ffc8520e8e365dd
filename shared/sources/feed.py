"""RSS 0.9x/1.0/2.0 and Atom feeds, parsed by feedparser."""

from __future__ import annotations

import calendar
from datetime import UTC, datetime
from typing import Any

import feedparser

from shared.exceptions import PoisonMessage
from shared.http import HttpClient
from shared.models import FeedSource
from shared.sources.base import PollResult, PollState, SourceItem
from shared.sources.common import check_body, conditional_get, refuse_entities

__all__ = ["FeedSourceKind", "conditional_get"]


# What feedparser flags without anything being wrong with the feed's content:
# a server's wrong Content-Type or charset label.
_HARMLESS = (feedparser.NonXMLContentType, feedparser.CharacterEncodingOverride)


def _published(entry: Any) -> datetime | None:
    parsed = entry.get("published_parsed") or entry.get("updated_parsed")
    if not parsed:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(parsed), UTC)
    except (OverflowError, ValueError):
        return None


def _longest(*hints: float | None) -> float | None:
    given = [h for h in hints if h is not None]
    return max(given) if given else None


class FeedSourceKind:
    """The ``rss`` and ``atom`` kinds: feedparser reads both."""

    async def poll(self, source: FeedSource, state: PollState, http: HttpClient) -> PollResult:
        got = await conditional_get(source.url, state, http)
        if got.response is None:
            return PollResult(
                state=got.state, not_modified=True, ttl_s=got.ttl_s, final_url=got.final_url
            )
        content = got.response.content
        check_body(source.url, content)
        refuse_entities(source.url, content)
        parsed = feedparser.parse(content, response_headers=got.response.headers)
        items = [
            SourceItem(
                url=entry.link,
                guid=entry.get("id") or entry.get("guid"),
                title=entry.get("title"),
                published_at=_published(entry),
            )
            for entry in parsed.entries
            if entry.get("link")
        ]
        if not items:
            # feedparser salvages what it can from a sloppy feed; only a
            # document that yields nothing and is broken or no feed at all fails.
            error = parsed.get("bozo_exception")
            if not parsed.version or (error is not None and not isinstance(error, _HARMLESS)):
                reason = error or "no RSS or Atom document"
                raise PoisonMessage("malformed-feed", f"{source.url}: not a feed ({reason})")
        ttl = parsed.feed.get("ttl")
        # <ttl> is in minutes (RSS 2.0).
        feed_ttl_s = float(ttl) * 60 if isinstance(ttl, str) and ttl.strip().isdigit() else None
        return PollResult(
            items=items,
            state=got.state,
            ttl_s=_longest(feed_ttl_s, got.ttl_s),
            final_url=got.final_url,
        )
