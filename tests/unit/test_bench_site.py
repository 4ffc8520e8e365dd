"""The generated site of the pipeline benchmark says truly when each item appeared."""

from __future__ import annotations

import http.client

from bench.pipeline.site import GeneratedSite, page, path


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


def test_an_item_is_served_when_a_feed_first_lists_it() -> None:
    clock = Clock()
    site = GeneratedSite(2, 3, rate=1.0, clock=clock)
    try:
        site.start_publishing()
        clock.now += 2.5  # items 0 (feed 0) and 3 (feed 1) are published
        site.feed(0)
        clock.now += 4.0
        site.feed(0)
        # Published 1 s in, first served 2.5 s in: the poll's wait is not the fetcher's.
        assert site.appeared[0] == 1001.0 and site.served[0] == 1002.5
        assert site.served[1] == 1006.5 and 3 not in site.served
    finally:
        site.server_close()


def test_the_site_keeps_connections_open_and_serves_each_page_as_rendered() -> None:
    site = GeneratedSite(2, 3)
    site.prerender()
    site.start_in_thread()
    conn = http.client.HTTPConnection("127.0.0.1", site.server_address[1], timeout=10)
    try:
        conn.request("GET", "/feed/0.xml")
        feed = conn.getresponse()
        assert feed.status == 200 and path(2).encode() in feed.read()
        etag = feed.getheader("ETag")
        assert etag is not None
        assert not feed.will_close
        for n in (0, 4):
            conn.request("GET", path(n))
            response = conn.getresponse()
            assert response.read() == page(n, site.base_url).encode()
            assert not response.will_close  # the next request reuses the connection
        conn.request("GET", "/feed/0.xml", headers={"If-None-Match": etag})
        unchanged = conn.getresponse()
        assert unchanged.status == 304 and unchanged.read() == b""
        assert not unchanged.will_close
    finally:
        conn.close()
        site.shutdown()
        site.server_close()
