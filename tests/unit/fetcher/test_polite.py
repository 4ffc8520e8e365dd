"""Politeness: robots.txt, per-host pacing and concurrency, slowing down on 429/503."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable

import pytest
from aiohttp import web

from services.fetcher.polite import PoliteClient, Politeness
from shared.http import AddressPolicy, FetchError
from tests.unit.fetcher.conftest import LOOPBACK
from tests.unit.fetcher.site import Site, static

Factory = Callable[..., PoliteClient]


@pytest.fixture
async def polite() -> AsyncIterator[Factory]:
    made: list[PoliteClient] = []

    def make(**overrides: object) -> PoliteClient:
        settings = {"host_min_delay_s": 0.0, **overrides}
        client = PoliteClient(Politeness(**settings), policy=LOOPBACK, total_timeout_s=5)  # type: ignore[arg-type]
        made.append(client)
        return client

    yield make
    for client in made:
        await client.aclose()


async def test_robots_rules_are_obeyed_and_fetched_once(site: Site, polite: Factory) -> None:
    site.route("/robots.txt", static("User-agent: *\nDisallow: /private/\n"))
    site.route("/news/1", static("ok"))
    site.route("/private/1", static("secret"))
    client = polite()
    for _ in range(3):
        assert (await client.get(site.url("/news/1"))).status == 200
    with pytest.raises(FetchError) as info:
        await client.get(site.url("/private/1"))
    assert info.value.reason == "robots-disallowed" and not info.value.transient
    assert site.hits["/robots.txt"] == 1 and site.hits["/private/1"] == 0


async def test_robots_group_for_our_agent_wins(site: Site, polite: Factory) -> None:
    site.route(
        "/robots.txt",
        static("User-agent: *\nDisallow: /\n\nUser-agent: newsflow\nAllow: /\n"),
    )
    site.route("/a", static("ok"))
    assert (await polite().get(site.url("/a"))).status == 200
    with pytest.raises(FetchError):
        await polite(agent="otherbot").get(site.url("/a"))


async def test_missing_robots_allows_everything(site: Site, polite: Factory) -> None:
    site.route("/a", static("ok"))  # /robots.txt is a 404
    assert (await polite().get(site.url("/a"))).status == 200


async def test_unreachable_robots_keeps_off_the_host(site: Site, polite: Factory) -> None:
    site.route("/robots.txt", static("down", status=503))
    site.route("/a", static("ok"))
    client = polite()
    for _ in range(2):
        with pytest.raises(FetchError) as info:
            await client.get(site.url("/a"))
        assert info.value.reason == "robots-unavailable" and info.value.transient
    assert site.hits["/a"] == 0 and site.hits["/robots.txt"] == 1  # cached, not hammered


async def test_crawl_delay_spaces_requests(site: Site, polite: Factory) -> None:
    site.route("/robots.txt", static("User-agent: *\nCrawl-delay: 0.3\n"))
    site.route("/a", static("ok"))
    client = polite()
    started = time.monotonic()
    for _ in range(3):
        await client.get(site.url("/a"))
    # robots.txt, then three pages, each 0.3 s after the one before
    assert time.monotonic() - started >= 0.85


async def test_crawl_delay_is_capped(site: Site, polite: Factory) -> None:
    site.route("/robots.txt", static("User-agent: *\nCrawl-delay: 3600\n"))
    site.route("/a", static("ok"))
    client = polite(max_crawl_delay_s=0.2)
    started = time.monotonic()
    await client.get(site.url("/a"))
    await client.get(site.url("/a"))
    assert time.monotonic() - started < 2


async def test_requests_in_flight_per_host_are_limited(site: Site, polite: Factory) -> None:
    in_flight = peak = 0

    async def slow(request: web.Request) -> web.StreamResponse:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.1)
        in_flight -= 1
        return web.Response(text="ok")

    site.route("/slow", slow)
    client = polite(host_concurrency=2)
    await asyncio.gather(*(client.get(site.url("/slow")) for _ in range(6)))
    assert peak == 2


async def test_429_with_retry_after_pauses_the_host(site: Site, polite: Factory) -> None:
    site.route("/busy", static("slow down", status=429, headers={"Retry-After": "120"}))
    site.route("/other", static("ok"))
    client = polite(max_host_wait_s=1)
    assert (await client.get(site.url("/busy"))).status == 429
    with pytest.raises(FetchError) as info:
        await client.get(site.url("/other"))
    assert info.value.reason == "host-throttled" and info.value.transient
    assert info.value.retry_after_s is not None and 100 < info.value.retry_after_s <= 120
    assert site.hits["/other"] == 0


async def test_503_without_retry_after_pauses_and_escalates(site: Site, polite: Factory) -> None:
    site.route("/down", static("down", status=503))
    client = polite(max_host_wait_s=0, max_penalty_s=30)
    await client.get(site.url("/down"))
    with pytest.raises(FetchError) as first:
        await client.get(site.url("/down"))
    assert first.value.retry_after_s is not None and first.value.retry_after_s <= 5
    host = client._hosts[site.base_url]
    host.next_at = 0  # pretend the pause is over
    await client.get(site.url("/down"))
    assert host.penalty_s == 10  # doubled


async def test_a_paused_host_does_not_hold_up_other_hosts(site: Site) -> None:
    site.route("/busy", static("no", status=429, headers={"Retry-After": "600"}))
    site.route("/a", static("ok"))
    client = PoliteClient(
        Politeness(host_min_delay_s=0, max_host_wait_s=1),
        policy=AddressPolicy.from_entries(["127.0.0.1", "localhost"]),
    )
    await client.get(site.url("/busy"))
    other = site.url("/a").replace("127.0.0.1", "localhost")
    assert (await client.get(other)).status == 200
    await client.aclose()
