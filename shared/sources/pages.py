"""A fixed list of article pages: each is fetched once."""

from __future__ import annotations

import hashlib
import json

from shared.exceptions import PoisonMessage
from shared.http import HttpClient
from shared.models import FeedSource
from shared.sources.base import PollResult, PollState, SourceItem

__all__ = ["PagesSourceKind"]


def page_urls(source: FeedSource) -> list[str]:
    """The source's pages: ``options.urls`` (a list), else its ``url``; in order, once each."""
    urls = source.options.get("urls")
    if urls is None:
        urls = [source.url]
    if not isinstance(urls, list) or not all(isinstance(u, str) for u in urls):
        raise PoisonMessage("bad-source", f"{source.id}: options.urls must be a list of URLs")
    return list(dict.fromkeys(u.strip() for u in urls if u.strip()))


class PagesSourceKind:
    """The ``pages`` kind: the pages in ``options.urls`` (or the one ``url``).

    A poll needs no request: the list is the source. Each page is fetched once
    (its URL is its key); adding a URL to the list fetches the new one.
    """

    async def poll(self, source: FeedSource, state: PollState, http: HttpClient) -> PollResult:
        urls = page_urls(source)
        bad = [u for u in urls if not u.startswith(("http://", "https://"))]
        if bad:
            raise PoisonMessage("bad-source", f"{source.id}: not http(s) URLs: {bad[:3]}")
        digest = hashlib.sha256(json.dumps(urls).encode()).hexdigest()
        new_state = state.model_copy(update={"body_hash": digest})
        return PollResult(
            items=[SourceItem(url=u, guid=u) for u in urls],
            state=new_state,
            not_modified=digest == state.body_hash,
        )
