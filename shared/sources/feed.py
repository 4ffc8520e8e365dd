"""RSS 0.9x/1.0/2.0 and Atom feeds, parsed by feedparser."""

from __future__ import annotations

import calendar
import hashlib
from datetime import UTC, datetime
from typing import Any

import feedparser

from shared.exceptions import PoisonMessage
from shared.http import FetchError, HttpClient, HttpResponse
from shared.models import FeedSource
from shared.sources.base import PollResult, PollState, SourceItem

__all__ = ["FeedSourceKind", "conditional_get"]


async def conditional_get(
    url: str, state: PollState, http: HttpClient
) -> tuple[HttpResponse | None, PollState]:
    """GET with the validators of ``state``.

    Returns (None, state) when nothing changed: a 304, or (for servers that
    ignore validators) a body whose hash equals the last one. Raises
    :class:`FetchError` for HTTP errors, with Retry-After when the server gave one.
    """
    headers: dict[str, str] = {}
    if state.etag:
        headers["If-None-Match"] = state.etag
    if state.last_modified:
        headers["If-Modified-Since"] = state.last_modified
    response = await http.get(url, headers=headers)
    if response.status == 304:
        return None, state
    if response.status >= 400:
        raise FetchError(
            f"http-{response.status}",
            f"{url}: HTTP {response.status}",
            retry_after_s=_retry_after(response),
        )
    body_hash = hashlib.sha256(response.content).hexdigest()
    new_state = state.model_copy(
        update={
            "etag": response.headers.get("etag"),
            "last_modified": response.headers.get("last-modified"),
            "body_hash": body_hash,
        }
    )
    if body_hash == state.body_hash:
        return None, new_state
    return response, new_state


def _retry_after(response: HttpResponse) -> float | None:
    value = response.headers.get("retry-after")
    if value and value.strip().isdigit():
        return float(value.strip())
    return None


def _published(entry: Any) -> datetime | None:
    parsed = entry.get("published_parsed") or entry.get("updated_parsed")
    if not parsed:
        return None
    return datetime.fromtimestamp(calendar.timegm(parsed), UTC)


class FeedSourceKind:
    """The ``rss`` and ``atom`` kinds: feedparser reads both."""

    async def poll(self, source: FeedSource, state: PollState, http: HttpClient) -> PollResult:
        response, new_state = await conditional_get(source.url, state, http)
        if response is None:
            return PollResult(state=new_state, not_modified=True)
        parsed = feedparser.parse(response.content, response_headers=response.headers)
        if parsed.bozo and not parsed.entries:
            error = parsed.get("bozo_exception")
            raise PoisonMessage("malformed-feed", f"{source.url}: not a feed ({error})")
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
        ttl = parsed.feed.get("ttl")
        ttl_s = float(ttl) * 60 if isinstance(ttl, str) and ttl.isdigit() else None
        return PollResult(items=items, state=new_state, ttl_s=ttl_s)
