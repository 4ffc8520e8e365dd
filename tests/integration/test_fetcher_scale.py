"""Two fetcher workers share 200 sources; one is killed and the other takes over.

Every source is polled, none twice within its interval, and no page is
fetched twice, also across the takeover.
"""

from __future__ import annotations

import asyncio
import itertools
import time

import pytest

from newsflow.feeds import put_sources
from shared.models import FeedSource
from shared.settings import CommonSettings
from tests.helpers import Services
from tests.integration.test_fetcher_faults import PAGE, rss
from tests.unit.fetcher.site import Site, static

SOURCES = 200
INTERVAL_S = 15.0
ENV = {
    "NEWSFLOW_FETCHER_ALLOW_HOSTS": "127.0.0.1",
    "NEWSFLOW_FETCHER_HOST_MIN_DELAY_S": "0",
    "NEWSFLOW_FETCHER_HOST_CONCURRENCY": "16",
    # Exact intervals, so "not twice within an interval" can be checked as is.
    "NEWSFLOW_FETCHER_JITTER": "0",
    "NEWSFLOW_FETCHER_ADAPTIVE": "false",
    "NEWSFLOW_FETCHER_SESSION_TIMEOUT_S": "10",
}
# The scheduler looks for due sources every 0.5 s, so a poll may come that
# much early against the previous one's clock.
SLACK_S = 1.0


async def _until(predicate: object, timeout_s: float, services: Services) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        await asyncio.sleep(0.5)
    return False


def _feeds(site: Site) -> dict[str, list[float]]:
    return {f"/f/{n}": site.times.get(f"/f/{n}", []) for n in range(SOURCES)}


@pytest.mark.slow
async def test_two_workers_share_the_sources_and_survive_a_sigkill(
    common: CommonSettings, services: Services, site: Site
) -> None:
    sources = []
    for n in range(SOURCES):
        page = site.route(f"/p/{n}", static(PAGE, headers={"Content-Type": "text/html"}))
        url = site.route(f"/f/{n}", static(rss(page)))
        sources.append(FeedSource(id=f"s{n:03d}", kind="rss", url=url, interval_s=INTERVAL_S))
    first = services.start("fetcher", 1, **ENV)
    second = services.start("fetcher", 2, **ENV)
    # Let both join the group before there is work, so the first polls are
    # made under the final assignment.
    assert await _until(
        lambda: "Ready" in first.log_tail(400) and "Ready" in second.log_tail(400), 60, services
    ), services.logs()
    await asyncio.sleep(5)
    await put_sources(common, sources)

    # Two rounds under both workers: everything polled, every page fetched.
    assert await _until(
        lambda: all(len(t) >= 2 for t in _feeds(site).values()), 3 * INTERVAL_S + 30, services
    ), services.logs()
    await asyncio.sleep(3)  # between rounds: no poll in flight
    first.kill()
    killed_at = time.time()

    # The survivor takes the dead worker's partitions and their state over.
    assert await _until(
        lambda: all(t[-1] > killed_at for t in _feeds(site).values()), 90, services
    ), services.logs()
    assert second.alive(), services.logs()

    pages = {n: site.hits[f"/p/{n}"] for n in range(SOURCES)}
    assert set(pages.values()) == {1}, {n: c for n, c in pages.items() if c != 1}
    gaps = [
        (path, round(b - a, 2))
        for path, times in _feeds(site).items()
        for a, b in itertools.pairwise(times)
        if b - a < INTERVAL_S - SLACK_S
    ]
    assert gaps == [], gaps[:10]
