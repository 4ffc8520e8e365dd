"""The rss/atom source kind, against an in-process HTTP transport (no network)."""

from __future__ import annotations

import httpx
import pytest

from shared.exceptions import PoisonMessage
from shared.http import FetchError, HttpClient
from shared.models import FeedSource
from shared.sources import PollState, available_kinds, load_source
from shared.sources.feed import FeedSourceKind

RSS = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>T</title><ttl>15</ttl>
<item><title>One</title><link>http://site.test/a/1</link><guid>g-1</guid>
<pubDate>Tue, 03 Mar 2026 10:00:00 GMT</pubDate></item>
<item><title>Two</title><link>http://site.test/a/2</link></item></channel></rss>"""

ATOM = b"""<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">
<title>A</title><id>tag:a</id><updated>2026-03-03T10:00:00Z</updated>
<entry><title>E</title><link href="http://site.test/e/1"/><id>tag:e1</id>
<updated>2026-03-03T09:00:00Z</updated></entry></feed>"""


def _client(handler: httpx.MockTransport) -> HttpClient:
    return HttpClient(transport=handler)


def _source(url: str = "http://site.test/feed") -> FeedSource:
    return FeedSource(id="s", kind="rss", url=url)


async def test_rss_items_with_guid_link_and_ttl() -> None:
    http = _client(
        httpx.MockTransport(lambda r: httpx.Response(200, content=RSS, headers={"ETag": '"v1"'}))
    )
    result = await FeedSourceKind().poll(_source(), PollState(), http)
    assert [i.url for i in result.items] == ["http://site.test/a/1", "http://site.test/a/2"]
    assert result.items[0].key == "g-1" and result.items[1].key == "http://site.test/a/2"
    assert result.items[0].published_at is not None
    assert result.ttl_s == 900
    assert result.state.etag == '"v1"'


async def test_atom_entries() -> None:
    http = _client(httpx.MockTransport(lambda r: httpx.Response(200, content=ATOM)))
    result = await FeedSourceKind().poll(_source(), PollState(), http)
    assert [(i.url, i.guid) for i in result.items] == [("http://site.test/e/1", "tag:e1")]


async def test_conditional_get_sends_validators_and_304_means_nothing_new() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(304)

    state = PollState(etag='"v1"', last_modified="Tue, 03 Mar 2026 10:00:00 GMT")
    result = await FeedSourceKind().poll(_source(), state, _client(httpx.MockTransport(handler)))
    assert result.not_modified and result.items == []
    assert seen[0].headers["if-none-match"] == '"v1"'
    assert seen[0].headers["if-modified-since"] == state.last_modified


async def test_unchanged_body_counts_as_not_modified_when_server_ignores_validators() -> None:
    http = _client(httpx.MockTransport(lambda r: httpx.Response(200, content=RSS)))
    first = await FeedSourceKind().poll(_source(), PollState(), http)
    second = await FeedSourceKind().poll(_source(), first.state, http)
    assert not first.not_modified and second.not_modified


async def test_html_served_as_a_feed_is_poison() -> None:
    page = b"<html><body><h1>Welcome</h1><p>not a feed</p></body></html>"
    http = _client(httpx.MockTransport(lambda r: httpx.Response(200, content=page)))
    with pytest.raises(PoisonMessage) as info:
        await FeedSourceKind().poll(_source(), PollState(), http)
    assert info.value.reason == "malformed-feed"


async def test_http_error_carries_status_and_retry_after() -> None:
    http = _client(
        httpx.MockTransport(lambda r: httpx.Response(429, headers={"Retry-After": "120"}))
    )
    with pytest.raises(FetchError) as info:
        await FeedSourceKind().poll(_source(), PollState(), http)
    assert info.value.reason == "http-429" and info.value.retry_after_s == 120


def test_builtin_kinds_are_registered_as_entry_points() -> None:
    assert {"rss", "atom"} <= set(available_kinds())
    assert isinstance(load_source("rss"), FeedSourceKind)
