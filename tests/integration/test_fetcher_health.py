"""Per-source health of a real fetcher worker, read from its /metrics endpoint.

Series for each source it owns (polls by outcome, items, failures, last
success, interval), none for a source removed from the registry, and none for
a source whose partition moved to a second worker.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiohttp import web

from newsflow.feeds import put_sources, remove_sources
from newsflow.infra import apply_topics
from shared.models import FeedSource
from shared.settings import CommonSettings
from tests.conftest import Infra
from tests.helpers import Services, free_port, scrape
from tests.integration.test_fetcher_faults import PAGE, rss
from tests.unit.fetcher.site import Site, stall, static

ENV = {
    "NEWSFLOW_FETCHER_ALLOW_HOSTS": "127.0.0.1",
    "NEWSFLOW_FETCHER_HOST_MIN_DELAY_S": "0",
    # One host serves every feed here, the stalling one included.
    "NEWSFLOW_FETCHER_HOST_CONCURRENCY": "16",
    "NEWSFLOW_FETCHER_ROBOTS": "false",
    "NEWSFLOW_FETCHER_READ_TIMEOUT_S": "1",
    "NEWSFLOW_FETCHER_TOTAL_TIMEOUT_S": "1.5",
    "NEWSFLOW_FETCHER_JITTER": "0",
    "NEWSFLOW_FETCHER_ADAPTIVE": "false",
    "NEWSFLOW_FETCHER_SESSION_TIMEOUT_S": "10",
}
HEALTHY = 8


@pytest.fixture
async def common(infra: Infra) -> AsyncIterator[CommonSettings]:
    """This test's own topics; the fetcher needs no index."""
    settings = infra.common()
    await apply_topics(settings)
    yield settings


async def _metrics(port: int) -> str:
    # In a thread: the site the worker polls runs on this test's event loop,
    # and must not stall while the worker is slow to answer.
    return await asyncio.to_thread(scrape, port)


def _series(text: str, name: str) -> dict[tuple[str, ...], float]:
    """``name``'s samples by (source, kind[, outcome])."""
    out: dict[tuple[str, ...], float] = {}
    for labels, value in re.findall(rf"^{name}\{{(.*)\}} (\S+)$", text, re.M):
        found = dict(re.findall(r'(\w+)="([^"]*)"', labels))
        assert found["stage"] == "fetcher"
        key = (found["source"], found["kind"], *([found["outcome"]] if "outcome" in found else []))
        out[key] = float(value)
    return out


def _sources(text: str) -> set[str]:
    return {key[0] for key in _series(text, "newsflow_source_consecutive_failures")}


def _conditional(body: str) -> Callable[[web.Request], object]:
    """A feed that answers a conditional GET with 304, as most real feeds do."""

    async def handler(request: web.Request) -> web.StreamResponse:
        if request.headers.get("If-None-Match") == '"v1"':
            return web.Response(status=304, headers={"ETag": '"v1"'})
        return web.Response(body=body.encode(), headers={"ETag": '"v1"'})

    return handler


async def _until(
    predicate: Callable[[], Awaitable[bool]], timeout_s: float, services: Services
) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if await predicate():
            return True
        if not all(s.alive() for s in services.started):
            return False
        await asyncio.sleep(0.5)
    return await predicate()


async def test_worker_serves_health_of_the_sources_it_owns(
    common: CommonSettings, services: Services, site: Site
) -> None:
    sources = []
    for n in range(HEALTHY):
        page = site.route(f"/p/{n}", static(PAGE, headers={"Content-Type": "text/html"}))
        url = site.route(f"/f/{n}", _conditional(rss(page)))  # type: ignore[arg-type]
        sources.append(FeedSource(id=f"ok-{n}", kind="rss", url=url, interval_s=1))
    broken = {
        "gone": static("gone", status=404),
        "down": static("oops", status=500),  # not 503: that pauses the whole host
        "junk": static(b"<rss><channel><item><title>oops"),
        "slow": stall(5),
    }
    for name, handler in broken.items():
        url = site.route(f"/bad/{name}", handler)
        sources.append(FeedSource(id=name, kind="rss", url=url, interval_s=1))
    await put_sources(common, sources)
    port = free_port()
    services.start("fetcher", 1, NEWSFLOW_FETCHER_METRICS_PORT=str(port), **ENV)

    async def settled() -> bool:
        text = await _metrics(port)
        polls = _series(text, "newsflow_source_polls_total")
        items = _series(text, "newsflow_source_items_total")
        return (
            all(items.get((f"ok-{n}", "rss")) == 1 for n in range(HEALTHY))
            and all(polls.get((f"ok-{n}", "rss", "not-modified"), 0) >= 1 for n in range(HEALTHY))
            and polls.get(("gone", "rss", "http-4xx"), 0) >= 2
            and polls.get(("down", "rss", "http-5xx"), 0) >= 1
            and polls.get(("junk", "rss", "parse"), 0) >= 1
            and polls.get(("slow", "rss", "timeout"), 0) >= 1
        )

    assert await _until(settled, 90, services), (await _metrics(port), services.logs())
    text = await _metrics(port)
    assert _sources(text) == {s.id for s in sources}
    polls = _series(text, "newsflow_source_polls_total")
    assert polls[("ok-0", "rss", "ok")] == 1  # the first poll; 304s since
    assert {key[2] for key in polls if key[0] == "junk"} == {"parse"}
    failures = _series(text, "newsflow_source_consecutive_failures")
    assert failures[("gone", "rss")] >= 2 and failures[("ok-0", "rss")] == 0
    last = _series(text, "newsflow_source_last_success_timestamp_seconds")
    assert set(last) == {(f"ok-{n}", "rss") for n in range(HEALTHY)}
    assert all(time.time() - 60 < t <= time.time() for t in last.values())
    interval = _series(text, "newsflow_source_poll_interval_seconds")
    assert interval[("ok-0", "rss")] == 1.0
    assert interval[("gone", "rss")] >= 2.0  # backing off

    # A source removed from the registry takes its series with it.
    await remove_sources(common, ["gone"])

    async def forgotten() -> bool:
        return "gone" not in _sources(await _metrics(port))

    assert await _until(forgotten, 30, services), await _metrics(port)

    # A second worker takes some partitions: each source is reported by the
    # worker that polls it, and by no other.
    other = free_port()
    services.start("fetcher", 2, NEWSFLOW_FETCHER_METRICS_PORT=str(other), **ENV)
    remaining = {s.id for s in sources} - {"gone"}

    async def shared() -> bool:
        mine, theirs = _sources(await _metrics(port)), _sources(await _metrics(other))
        return bool(mine) and bool(theirs) and not mine & theirs and mine | theirs == remaining

    assert await _until(shared, 90, services), (
        _sources(await _metrics(port)),
        _sources(await _metrics(other)),
        services.logs(),
    )
    # The new owner recovered the sources' state: their health goes on.
    moved = _sources(await _metrics(other)) & {f"ok-{n}" for n in range(HEALTHY)}
    assert moved, "no healthy source moved"
    last = _series(await _metrics(other), "newsflow_source_last_success_timestamp_seconds")
    assert all((source, "rss") in last for source in moved)
