"""Sources registered together are polled at their own phases, not all at once.

A real fetcher worker and Kafka: each source's polls fall at its phase of its
interval (a hash of its id), from the first poll on, one interval apart.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator

import pytest

from newsflow.feeds import put_sources
from newsflow.infra import apply_topics
from services.fetcher.schedule import phase_of
from shared.models import FeedSource
from shared.settings import CommonSettings
from tests.conftest import Infra
from tests.helpers import Services
from tests.integration.test_fetcher_faults import rss
from tests.unit.fetcher.site import Site, static

SOURCES = 12
INTERVAL_S = 6.0
POLLS = 3
ENV = {
    "NEWSFLOW_FETCHER_ALLOW_HOSTS": "127.0.0.1",
    "NEWSFLOW_FETCHER_ROBOTS": "false",
    "NEWSFLOW_FETCHER_HOST_MIN_DELAY_S": "0",
    "NEWSFLOW_FETCHER_HOST_CONCURRENCY": "16",
    # Exact intervals, so each poll's moment can be checked against its phase.
    "NEWSFLOW_FETCHER_JITTER": "0",
    "NEWSFLOW_FETCHER_ADAPTIVE": "false",
}
# How late a poll may start against its moment on a busy two-core test host:
# the polls topic's round trip, a poll slot, the feed request.
LATE_S = 1.5


@pytest.fixture
async def common(infra: Infra) -> AsyncIterator[CommonSettings]:
    """This test's own topics; the fetcher needs no index."""
    settings = infra.common()
    await apply_topics(settings)
    yield settings


def _past_phase(at: float, phase: float) -> float:
    """Seconds ``at`` lies past the source's moment in its interval."""
    return ((at / INTERVAL_S - phase) % 1.0) * INTERVAL_S


async def test_sources_registered_together_are_polled_at_their_own_phases(
    common: CommonSettings, services: Services, site: Site
) -> None:
    ids = [f"phased-{n}" for n in range(SOURCES)]
    phases = {source_id: phase_of(source_id) for source_id in ids}
    # The ids were chosen so that in step and spread cannot be mistaken.
    assert max(phases.values()) - min(phases.values()) > 0.5
    sources = [
        FeedSource(
            id=source_id,
            kind="rss",
            url=site.route(f"/f/{source_id}", static(rss())),
            interval_s=INTERVAL_S,
        )
        for source_id in ids
    ]
    worker = services.start("fetcher", 1, **ENV)
    deadline = time.monotonic() + 60
    while "Ready" not in worker.log_tail(400):
        assert time.monotonic() < deadline and worker.alive(), services.logs()
        await asyncio.sleep(0.5)
    registered = time.time()
    await put_sources(common, sources)

    def polls() -> dict[str, list[float]]:
        return {source_id: site.times.get(f"/f/{source_id}", []) for source_id in ids}

    deadline = time.monotonic() + (POLLS + 2) * INTERVAL_S + 20
    while not all(len(times) >= POLLS for times in polls().values()):
        assert time.monotonic() < deadline, (polls(), services.logs())
        await asyncio.sleep(0.5)

    for source_id, times in polls().items():
        # First polled within its first interval, then once an interval...
        assert times[0] - registered < INTERVAL_S + LATE_S, (source_id, times, registered)
        gaps = [b - a for a, b in itertools.pairwise(times[:POLLS])]
        assert all(abs(gap - INTERVAL_S) < LATE_S for gap in gaps), (source_id, times)
        # ... each time at its own moment of the interval.
        late = [_past_phase(t, phases[source_id]) for t in times[:POLLS]]
        assert all(s < LATE_S for s in late), (source_id, phases[source_id], late)
