"""JSON Feed 1.0 and 1.1 (https://jsonfeed.org/version/1.1)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from shared.exceptions import PoisonMessage
from shared.http import HttpClient
from shared.models import FeedSource
from shared.sources.base import PollResult, PollState, SourceItem
from shared.sources.common import check_body, conditional_get

__all__ = ["JsonFeedSourceKind"]

_VERSION_PREFIX = "https://jsonfeed.org/version/1"


def _date(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def _item(entry: Any, use_content: bool) -> SourceItem | None:
    if not isinstance(entry, dict):
        return None
    url = entry.get("url") or entry.get("external_url")
    guid = entry.get("id")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        return None
    body: str | None = None
    body_kind: str = "html"
    if use_content:
        if isinstance(entry.get("content_html"), str):
            body = entry["content_html"]
        elif isinstance(entry.get("content_text"), str):
            body, body_kind = entry["content_text"], "text"
    title = entry.get("title")
    return SourceItem(
        url=url,
        # JSON Feed ids may be numbers; the spec asks readers to take them as strings.
        guid=str(guid) if guid is not None and guid != "" else None,
        title=title if isinstance(title, str) else None,
        published_at=_date(entry.get("date_published") or entry.get("date_modified")),
        body=body,
        body_kind="text" if body_kind == "text" else "html",
    )


class JsonFeedSourceKind:
    """The ``jsonfeed`` kind.

    Items link to their pages, which the fetcher downloads. With the option
    ``use_content: true`` an item's ``content_html`` (or ``content_text``) is
    taken as the article itself, for feeds that carry full text.
    """

    async def poll(self, source: FeedSource, state: PollState, http: HttpClient) -> PollResult:
        got = await conditional_get(source.url, state, http)
        if got.response is None:
            return PollResult(
                state=got.state, not_modified=True, ttl_s=got.ttl_s, final_url=got.final_url
            )
        check_body(source.url, got.response.content)
        try:
            document = json.loads(got.response.text())
        except ValueError as exc:
            raise PoisonMessage("malformed-feed", f"{source.url}: not JSON ({exc})") from exc
        if not isinstance(document, dict) or not str(document.get("version", "")).startswith(
            _VERSION_PREFIX
        ):
            raise PoisonMessage("malformed-feed", f"{source.url}: not a JSON Feed (no version)")
        entries = document.get("items")
        if not isinstance(entries, list):
            raise PoisonMessage("malformed-feed", f"{source.url}: JSON Feed without items")
        use_content = bool(source.options.get("use_content", False))
        items = [item for item in (_item(e, use_content) for e in entries) if item is not None]
        return PollResult(items=items, state=got.state, ttl_s=got.ttl_s, final_url=got.final_url)
