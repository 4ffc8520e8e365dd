"""The fetcher worker against real Kafka and the local demo site."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import pytest

from newsflow.demo.content import ARTICLES
from newsflow.demo.server import DemoServer, demo_sources
from newsflow.feeds import list_sources, put_sources, remove_sources
from newsflow.infra import apply_topics
from shared import codec
from shared.models import DeadLetter, FeedSource, RawArticle
from shared.settings import CommonSettings
from tests.conftest import Infra
from tests.helpers import Services, consume

# The demo site is on loopback, which the fetcher refuses unless told; and
# one host serves every feed, so no pause between its requests.
FETCHER_ENV = {
    "NEWSFLOW_FETCHER_ALLOW_HOSTS": "127.0.0.1",
    "NEWSFLOW_FETCHER_HOST_MIN_DELAY_S": "0",
}


@pytest.fixture
async def common(infra: Infra) -> AsyncIterator[CommonSettings]:
    """This test's own topics; the fetcher needs no Elasticsearch index."""
    settings = infra.common()
    await apply_topics(settings)
    yield settings


@pytest.fixture
def demo_site() -> Iterator[DemoServer]:
    server = DemoServer()
    server.start_in_thread()
    yield server
    server.shutdown()


def _raw(records: list[tuple[bytes | None, bytes | None]]) -> list[RawArticle]:
    return [codec.decode(RawArticle, v) for _, v in records]


async def test_fetches_every_item_once_across_a_restart(
    common: CommonSettings, services: Services, demo_site: DemoServer
) -> None:
    await put_sources(common, demo_sources(demo_site.base_url, interval_s=1))
    worker = services.start("fetcher", **FETCHER_ENV)
    records = await consume(
        common, common.topics.raw, until=lambda r: len(r) >= len(ARTICLES), timeout_s=90
    )
    raws = _raw(records)
    assert sorted(r.url.removeprefix(demo_site.base_url) for r in raws) == sorted(
        a.path for a in ARTICLES
    ), services.logs()
    assert all("<article>" in r.body and r.source_id.startswith("demo-") for r in raws)

    # Polled every second for a while, then restarted: the items seen are
    # remembered in the fetcher's table, so none is fetched again.
    await asyncio.sleep(4)
    worker.stop()
    services.start("fetcher", n=2, **FETCHER_ENV)
    await asyncio.sleep(8)
    again = await consume(common, common.topics.raw, until=lambda r: False, timeout_s=3)
    assert len(again) == len(ARTICLES), services.logs()


async def test_malformed_feed_is_reported_and_other_sources_go_on(
    common: CommonSettings, services: Services, demo_site: DemoServer
) -> None:
    broken = FeedSource(
        id="broken", kind="rss", url=f"{demo_site.base_url}/broken/feed.xml", interval_s=1
    )
    missing = FeedSource(
        id="missing", kind="rss", url=f"{demo_site.base_url}/nope/feed.xml", interval_s=1
    )
    good = demo_sources(demo_site.base_url, interval_s=1)[0]
    await put_sources(common, [broken, missing, good])
    services.start("fetcher", **FETCHER_ENV)
    letters = await consume(
        common, common.topics.deadletter, until=lambda r: len(r) >= 2, timeout_s=60
    )
    reasons = {(d.key, d.reason) for d in (codec.decode(DeadLetter, v) for _, v in letters)}
    assert reasons == {("broken", "malformed-feed"), ("missing", "http-404")}, services.logs()
    expected = sum(1 for a in ARTICLES if good.url.endswith(f"/{a.outlet}/feed.xml"))
    raws = await consume(
        common, common.topics.raw, until=lambda r: len(r) >= expected, timeout_s=60
    )
    assert len(raws) == expected
    # A failing source is reported once per streak, not on every retry.
    await asyncio.sleep(3)
    letters = await consume(common, common.topics.deadletter, until=lambda r: False, timeout_s=2)
    assert len(letters) == 2


async def test_feed_registry_add_list_remove(common: CommonSettings) -> None:
    sources = [
        FeedSource(id=f"s{i}", kind="rss", url=f"http://site{i}.test/feed") for i in range(5)
    ]
    await put_sources(common, sources)
    await remove_sources(common, ["s2"])
    await put_sources(common, [sources[0].model_copy(update={"interval_s": 60.0})])
    listed = await list_sources(common)
    assert sorted(listed) == ["s0", "s1", "s3", "s4"]
    assert listed["s0"].interval_s == 60.0
