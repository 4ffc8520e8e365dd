"""poll_source() against a misbehaving local site: every bad input ends with a reason."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from services.fetcher import fetch
from services.fetcher.app import http_client
from services.fetcher.fetch import poll_source
from services.fetcher.schedule import on_phase, phase_of
from services.fetcher.settings import FetcherSettings
from shared.http import HttpClient
from shared.models import FeedSource
from shared.settings import CommonSettings
from shared.sources import PollResult, PollState
from tests.unit.fetcher.site import Site, drip, redirect, stall, static

SETTINGS = FetcherSettings(
    common=CommonSettings(),
    allow_hosts=["127.0.0.1"],
    read_timeout_s=0.5,
    total_timeout_s=0.8,
    max_bytes=100_000,
    jitter=0,
    min_interval_s=1,
    max_item_attempts=2,
    host_min_delay_s=0,
)

# How late a due poll may run and keep its source's rhythm: a scheduler tick
# and the polls topic's round trip.
CATCH_UP_S = SETTINGS.tick_s + fetch._POLL_DISPATCH_S

PAGE = "<html><head><title>T</title></head><body><article><p>Text.</p></article></body></html>"


def rss(*links: str) -> str:
    items = "".join(f"<item><title>{link}</title><link>{link}</link></item>" for link in links)
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>F</title>{items}</channel></rss>'
    )


@pytest.fixture
async def client() -> AsyncIterator[HttpClient]:
    http = http_client(SETTINGS)
    yield http
    await http.aclose()


def _source(url: str, kind: str = "rss") -> FeedSource:
    return FeedSource(id="s1", kind=kind, url=url, interval_s=60)


@pytest.mark.parametrize(
    ("handler", "reason"),
    [
        (static(b"<rss><channel><item><title>oops"), "malformed-feed"),
        (static(PAGE, headers={"Content-Type": "text/html"}), "malformed-feed"),
        (static(b""), "empty-body"),
        (static("gone", status=404), "http-404"),
        (static("gone", status=410), "http-410"),
        (static("oops", status=500), "http-500"),
        (stall(1.5), "timeout"),
        (redirect("/feed.xml"), "redirect-loop"),
        (drip(every_s=0.1), "timeout"),
        (static(b"<rss>" + b"x" * 200_000), "too-large"),
        (static(bytes(range(256)) * 20, headers={"Content-Type": "image/png"}), "binary-body"),
    ],
    ids=[
        "malformed-xml",
        "html-as-feed",
        "empty",
        "404",
        "410",
        "500",
        "timeout",
        "redirect-loop",
        "drip",
        "oversized",
        "binary",
    ],
)
async def test_a_bad_source_is_recorded_with_its_reason_and_backed_off(
    site: Site, client: HttpClient, handler: Any, reason: str
) -> None:
    url = site.route("/feed.xml", handler)
    now = time.time()
    first = await poll_source(_source(url), None, client, SETTINGS, now=now)
    assert first.source_error is not None and first.source_error.reason == reason
    assert first.first_failure and first.articles == []
    assert first.state["failures"] == 1 and first.state["last_error_reason"] == reason
    assert first.state["next_poll_at"] == pytest.approx(now + 60)
    second = await poll_source(_source(url), first.state, client, SETTINGS, now=now + 60)
    assert not second.first_failure and second.state["failures"] == 2
    assert second.state["next_poll_at"] == pytest.approx(now + 60 + 120)  # doubled


async def test_retry_after_of_a_failing_source_is_honoured(site: Site, client: HttpClient) -> None:
    url = site.route("/feed.xml", static("busy", status=503, headers={"Retry-After": "3600"}))
    outcome = await poll_source(_source(url), None, client, SETTINGS, now=1000.0)
    assert outcome.state["next_poll_at"] == pytest.approx(1000 + 3600)


async def test_pages_are_fetched_once_and_bad_pages_dead_lettered_with_a_reason(
    site: Site, client: HttpClient
) -> None:
    routes = {
        "/good": static(PAGE, headers={"Content-Type": "text/html; charset=utf-8"}),
        "/missing": static("no", status=404),
        "/image": static(b"\x89PNG" + bytes(200), headers={"Content-Type": "image/png"}),
        "/binary": static(bytes(range(256)) * 4, headers={"Content-Type": "text/html"}),
        "/huge": static("x" * 200_000, headers={"Content-Type": "text/html"}),
        "/empty": static("", headers={"Content-Type": "text/html"}),
    }
    for path, handler in routes.items():
        site.route(path, handler)
    url = site.route("/feed.xml", static(rss(*(site.url(p) for p in routes))))
    outcome = await poll_source(_source(url), None, client, SETTINGS)
    assert outcome.source_error is None
    assert [a.url for a in outcome.articles] == [site.url("/good")]
    article = outcome.articles[0]
    assert article.body == PAGE and article.final_url == site.url("/good")
    assert article.source_id == "s1" and article.feed_title == site.url("/good")
    reasons = {e.item.url.removeprefix(site.base_url): e.reason for e in outcome.item_errors}
    assert reasons == {
        "/missing": "http-404",
        "/image": "not-a-page",
        "/binary": "binary-body",
        "/huge": "too-large",
        "/empty": "empty-body",
    }
    assert outcome.seen is not None and len(outcome.seen) == 6

    # Nothing new: the feed answers the same body and no page is fetched again.
    again = await poll_source(_source(url), outcome.state, client, SETTINGS, seen=outcome.seen)
    assert again.articles == [] and again.item_errors == [] and again.seen is None
    assert again.state["not_modified"] and site.hits["/good"] == 1


async def test_a_page_that_fails_transiently_is_retried_then_dead_lettered(
    site: Site, client: HttpClient
) -> None:
    site.route("/flaky", static("busy", status=500))
    site.route("/slow", drip(every_s=0.1))
    url = site.route("/feed.xml", static(rss(site.url("/flaky"), site.url("/slow"))))
    first = await poll_source(_source(url), None, client, SETTINGS)
    assert first.item_errors == [] and first.state["retry"] == {
        site.url("/flaky"): 1,
        site.url("/slow"): 1,
    }
    assert first.state["pending"]  # comes back soon for them, though not at once
    assert first.state["next_poll_at"] - first.state["last_poll_at"] == pytest.approx(10)
    second = await poll_source(_source(url), first.state, client, SETTINGS, seen=first.seen)
    assert {(e.item.url, e.reason) for e in second.item_errors} == {
        (site.url("/flaky"), "http-500"),
        (site.url("/slow"), "timeout"),
    }
    assert second.state["retry"] == {} and second.seen is not None and len(second.seen) == 2
    assert site.hits["/flaky"] == 2


async def test_a_page_disallowed_by_robots_is_dead_lettered(site: Site, client: HttpClient) -> None:
    site.route("/robots.txt", static("User-agent: *\nDisallow: /private\n"))
    site.route("/private/1", static(PAGE, headers={"Content-Type": "text/html"}))
    url = site.route("/feed.xml", static(rss(site.url("/private/1"))))
    outcome = await poll_source(_source(url), None, client, SETTINGS)
    assert [e.reason for e in outcome.item_errors] == ["robots-disallowed"]
    assert site.hits["/private/1"] == 0


async def test_downloads_per_poll_are_capped_and_the_rest_follow_soon(
    site: Site, client: HttpClient
) -> None:
    links = [
        site.route(f"/p/{i}", static(PAGE, headers={"Content-Type": "text/html"})) for i in range(5)
    ]
    url = site.route("/feed.xml", static(rss(*links)))
    capped = SETTINGS.model_copy(update={"max_items_per_poll": 3})
    first = await poll_source(_source(url), None, client, capped)
    assert len(first.articles) == 3 and first.state["pending"]
    second = await poll_source(_source(url), first.state, client, capped, seen=first.seen)
    assert len(second.articles) == 2 and not second.state["pending"]


async def test_redirected_pages_keep_their_link_and_record_the_final_url(
    site: Site, client: HttpClient
) -> None:
    site.route("/short", redirect("/long/story", 301))
    site.route("/long/story", static(PAGE, headers={"Content-Type": "text/html"}))
    url = site.route("/feed.xml", static(rss(site.url("/short"))))
    [article] = (await poll_source(_source(url), None, client, SETTINGS)).articles
    assert article.url == site.url("/short") and article.final_url == site.url("/long/story")


async def test_unknown_kind_and_crashing_plugin_are_source_errors(
    client: HttpClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    outcome = await poll_source(_source("http://x.test/", "nope"), None, client, SETTINGS)
    assert outcome.source_error is not None and outcome.source_error.reason == "unknown-kind"

    class Crashing:
        async def poll(self, source: FeedSource, state: PollState, http: HttpClient) -> PollResult:
            raise KeyError("bug")

    monkeypatch.setattr(fetch, "load_source", lambda kind: Crashing())
    outcome = await poll_source(_source("http://x.test/", "crash"), None, client, SETTINGS)
    assert outcome.source_error is not None and outcome.source_error.reason == "plugin-error"


async def test_quiet_sources_are_polled_less_and_busy_ones_more(
    site: Site, client: HttpClient
) -> None:
    links = [site.url(f"/p/{i}") for i in range(4)]
    for link in links:
        site.route(
            link.removeprefix(site.base_url), static(PAGE, headers={"Content-Type": "text/html"})
        )
    feed = {"body": rss(links[0])}

    async def handler(request: Any) -> Any:
        return await static(feed["body"])(request)

    url = site.route("/feed.xml", handler)
    state: dict[str, Any] | None = None
    seen: list[str] | None = None
    delays = []
    for n in range(1, 4):  # three polls, each with something new
        feed["body"] = rss(*links[:n])
        out = await poll_source(_source(url), state, client, SETTINGS, seen=seen, now=0.0)
        state, seen = out.state, out.seen or seen
        delays.append(state["next_poll_at"])
    # The first poll starts the source's rhythm at its phase of the interval;
    # new items then bring polls closer.
    assert delays == [on_phase(60.0 - CATCH_UP_S, 60.0, phase_of("s1")), 45, 33.75]
    for _ in range(3):  # nothing new: the interval grows again
        out = await poll_source(_source(url), state, client, SETTINGS, seen=seen, now=0.0)
        state = out.state
    assert state["next_poll_at"] == pytest.approx(33.75 * 1.25**3)


async def test_a_poll_that_waited_for_its_tick_keeps_the_sources_rhythm(
    site: Site, client: HttpClient
) -> None:
    url = site.route("/feed.xml", static(rss()))
    settings = SETTINGS.model_copy(update={"adaptive": False})
    first = await poll_source(_source(url), None, client, settings, now=1000.0)
    due = first.state["next_poll_at"]
    assert 1060.0 - CATCH_UP_S <= due < 1120.0 - CATCH_UP_S and first.state["interval_s"] == 60.0
    # Run 0.3 s after it was due (the scheduler's tick, the polls topic): the
    # next poll is still due a whole interval after the last was due.
    second = await poll_source(_source(url), first.state, client, settings, now=due + 0.3)
    assert second.state["next_poll_at"] == pytest.approx(due + 60.0)
    assert second.state["interval_s"] == 60.0


async def test_sources_polled_together_first_go_on_at_their_own_phases(
    site: Site, client: HttpClient
) -> None:
    url = site.route("/feed.xml", static(rss()))
    settings = SETTINGS.model_copy(update={"adaptive": False})
    nexts = []
    for n in range(20):
        source = FeedSource(id=f"feed-{n}", kind="rss", url=url, interval_s=60)
        out = await poll_source(source, None, client, settings, now=1000.0)
        nexts.append(out.state["next_poll_at"] % 60.0)
        assert out.state["next_poll_at"] == on_phase(1060.0 - CATCH_UP_S, 60.0, phase_of(source.id))
    # Polled at the same moment, they are next polled at 20 different moments.
    assert len({round(t, 3) for t in nexts}) == 20


async def test_a_source_back_from_failures_starts_a_new_rhythm_at_its_phase(
    site: Site, client: HttpClient
) -> None:
    feed = {"status": 200}

    async def handler(request: Any) -> Any:
        return await static(rss(), status=feed["status"])(request)

    url = site.route("/feed.xml", handler)
    settings = SETTINGS.model_copy(update={"adaptive": False})
    ok = await poll_source(_source(url), None, client, settings, now=1000.0)
    feed["status"] = 500
    due = ok.state["next_poll_at"]
    failed = await poll_source(_source(url), ok.state, client, settings, now=due)
    assert failed.state["failures"] == 1
    back_at = failed.state["next_poll_at"]  # the backoff's moment, not the phase's
    feed["status"] = 200
    back = await poll_source(_source(url), failed.state, client, settings, now=back_at)
    assert back.state["failures"] == 0
    expected = on_phase(back_at + 60.0 - CATCH_UP_S, 60.0, phase_of("s1"))
    assert back.state["next_poll_at"] == expected
