"""A busy fetcher worker: poll requests wait in its queue and are asked for again.

Every page must still be fetched once and every article emitted once: a
second request for a source that is being polled must not start a second
poll of it (both would download the same new pages).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from newsflow.feeds import put_sources
from newsflow.infra import apply_topics
from shared import codec
from shared.models import FeedSource, RawArticle
from shared.settings import CommonSettings
from tests.conftest import Infra
from tests.helpers import Services, consume
from tests.integration.test_fetcher_faults import PAGE, rss
from tests.unit.fetcher.site import Handler, Site, static

SOURCES = 8
PAGES = 10
PAGE_S = 0.3  # so one poll takes about PAGES * PAGE_S = 3 s
ENV = {
    "NEWSFLOW_FETCHER_ALLOW_HOSTS": "127.0.0.1",
    "NEWSFLOW_FETCHER_ROBOTS": "false",
    "NEWSFLOW_FETCHER_HOST_MIN_DELAY_S": "0",
    "NEWSFLOW_FETCHER_HOST_CONCURRENCY": "16",
    # Half the sources are polled at once, one page at a time: the other
    # half's requests wait in the queue several times longer than the
    # scheduler waits before asking again.
    "NEWSFLOW_FETCHER_CONCURRENT_POLLS": str(SOURCES // 2),
    "NEWSFLOW_FETCHER_ITEM_CONCURRENCY": "1",
    "NEWSFLOW_FETCHER_POLL_REQUEST_TIMEOUT_S": "0.5",
}


@pytest.fixture
async def common(infra: Infra) -> AsyncIterator[CommonSettings]:
    """This test's own topics; the fetcher needs no index."""
    settings = infra.common()
    await apply_topics(settings)
    yield settings


def _slow_page() -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(PAGE_S)
        return web.Response(text=PAGE, content_type="text/html")

    return handler


async def test_sources_asked_for_again_while_busy_are_polled_once(
    common: CommonSettings, services: Services, site: Site
) -> None:
    sources = []
    for s in range(SOURCES):
        pages = [site.route(f"/p/{s}/{n}", _slow_page()) for n in range(PAGES)]
        url = site.route(f"/f/{s}", static(rss(*pages)))
        sources.append(FeedSource(id=f"s{s}", kind="rss", url=url, interval_s=600))
    await put_sources(common, sources)
    services.start("fetcher", 1, **ENV)
    records = await consume(
        common, common.topics.raw, until=lambda r: len(r) >= SOURCES * PAGES, timeout_s=90
    )
    assert len(records) == SOURCES * PAGES, services.logs()
    # Long enough for every repeated request to have been handled.
    await asyncio.sleep(6)
    records = await consume(common, common.topics.raw, until=lambda r: False, timeout_s=3)
    ids = [codec.decode(RawArticle, v).id for _, v in records]
    assert len(ids) == len(set(ids)) == SOURCES * PAGES, (len(ids), len(set(ids)))
    hits = {path: n for path, n in site.hits.items() if path.startswith("/p/")}
    assert len(hits) == SOURCES * PAGES and set(hits.values()) == {1}, {
        path: n for path, n in hits.items() if n > 1
    }
    feeds = [site.hits[f"/f/{s}"] for s in range(SOURCES)]
    assert feeds == [1] * SOURCES, feeds
