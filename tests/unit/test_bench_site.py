"""The generated site of the pipeline benchmark says truly when each item appeared."""

from __future__ import annotations

from bench.pipeline.site import GeneratedSite


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_an_item_appears_at_its_publication_not_when_a_feed_is_next_read() -> None:
    clock = Clock()
    site = GeneratedSite(3, 4, rate=2.0, clock=clock)
    try:
        for step in range(15):
            clock.now = 1000.0 + step * 0.5
            listed = {n for feed in range(3) for n in site._items(feed)}
            for n in listed:
                # Listed now, so published by now; and not listed half a tick earlier.
                assert site.published_at(n) <= clock.now
            unlisted = set(site.numbers()) - listed
            assert all(site.published_at(n) > clock.now for n in unlisted)
        # A feed read late still stamps its items with when they were published.
        clock.now = 1000.0 + 100
        site.feed(1)
        assert site.appeared[1 * 4 + 2] == site.published_at(1 * 4 + 2) < clock.now
    finally:
        site.server_close()


def test_without_a_rate_an_item_appears_when_it_is_first_listed() -> None:
    clock = Clock()
    site = GeneratedSite(2, 2, clock=clock)
    try:
        clock.now = 1234.0
        site.feed(0)
        assert site.appeared == {0: 1234.0, 1: 1234.0}
    finally:
        site.server_close()


def test_publishing_starts_when_the_run_says_so() -> None:
    clock = Clock()
    site = GeneratedSite(2, 5, rate=1.0, clock=clock)
    try:
        clock.now += 30  # the workers start meanwhile
        site.start_publishing()
        assert site.listed(0) == 0 and site.listed(1) == 0
        clock.now += 1
        site.feed(0)
        assert site.appeared == {0: clock.now}
    finally:
        site.server_close()
