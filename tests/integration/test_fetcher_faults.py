"""The fetcher worker against a misbehaving local site, and a third-party source kind.

Every bad source ends as a dead letter with its reason (once per failure
streak), every bad page as a dead letter with its reason, and the good
source's articles still arrive.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from newsflow.feeds import put_sources, read_health
from shared import codec
from shared.models import DeadLetter, FeedSource, RawArticle
from shared.settings import CommonSettings
from tests.helpers import Services, consume
from tests.unit.fetcher.site import Site, drip, redirect, stall, static

PLUGINS = Path(__file__).resolve().parents[1] / "plugins"
PAGE = "<html><head><title>T</title></head><body><article><p>Text.</p></article></body></html>"
HTML = {"Content-Type": "text/html"}

FETCHER_ENV = {
    "NEWSFLOW_FETCHER_ALLOW_HOSTS": "127.0.0.1",
    "NEWSFLOW_FETCHER_HOST_MIN_DELAY_S": "0",
    "NEWSFLOW_FETCHER_READ_TIMEOUT_S": "1",
    "NEWSFLOW_FETCHER_TOTAL_TIMEOUT_S": "2",
    "NEWSFLOW_FETCHER_MAX_BYTES": "100000",
    "NEWSFLOW_FETCHER_MAX_ITEM_ATTEMPTS": "2",
}

# source id → (handler of its feed URL, the reason it must be reported with)
BAD_SOURCES = {
    "malformed": (static(b"<rss><channel><item><title>oops"), "malformed-feed"),
    "html": (static(PAGE, headers=HTML), "malformed-feed"),
    "empty": (static(b""), "empty-body"),
    "missing": (static("no", status=404), "http-404"),
    "gone": (static("no", status=410), "http-410"),
    "broken": (static("no", status=500), "http-500"),
    "stalled": (stall(5), "timeout"),
    "loop": (redirect("/f/loop"), "redirect-loop"),
    "drip": (drip(every_s=0.5), "timeout"),
    "huge": (static(b"<rss>" + b"x" * 300_000), "too-large"),
    "binary": (
        static(bytes(range(256)) * 20, headers={"Content-Type": "image/png"}),
        "binary-body",
    ),
}


def rss(*links: str) -> str:
    items = "".join(f"<item><title>t</title><link>{link}</link></item>" for link in links)
    return f'<rss version="2.0"><channel><title>F</title>{items}</channel></rss>'


async def test_bad_sources_and_pages_end_as_dead_letters_with_reasons(
    common: CommonSettings, services: Services, site: Site
) -> None:
    sources = []
    for source_id, (handler, _) in BAD_SOURCES.items():
        url = site.route(f"/f/{source_id}", handler)
        sources.append(FeedSource(id=source_id, kind="rss", url=url, interval_s=1))
    site.route("/p/good", static(PAGE, headers=HTML))
    site.route("/p/missing", static("no", status=404))
    site.route("/p/image", static(b"\x89PNG" + bytes(100), headers={"Content-Type": "image/png"}))
    site.route("/p/flaky", static("busy", status=500))
    feed = rss(*(site.url(f"/p/{p}") for p in ("good", "missing", "image", "flaky")))
    good = FeedSource(id="good", kind="rss", url=site.route("/f/good", static(feed)), interval_s=1)
    await put_sources(common, [*sources, good])
    services.start("fetcher", **FETCHER_ENV)

    expected_sources = {(sid, reason) for sid, (_, reason) in BAD_SOURCES.items()}
    expected_pages = {
        ("/p/missing", "http-404"),
        ("/p/image", "not-a-page"),
        ("/p/flaky", "http-500"),
    }

    def reasons(records: list[tuple[bytes | None, bytes | None]]) -> tuple[set[Any], set[Any]]:
        letters = [codec.decode(DeadLetter, v) for _, v in records]
        by_source = {(d.key, d.reason) for d in letters if d.topic == common.topics.feeds}
        by_page = set()
        for d in letters:
            if d.topic is None:
                import base64

                item = json.loads(base64.b64decode(d.original))
                by_page.add((item["url"].removeprefix(site.base_url), d.reason))
        return by_source, by_page

    records = await consume(
        common,
        common.topics.deadletter,
        until=lambda r: reasons(r) == (expected_sources, expected_pages),
        timeout_s=90,
    )
    assert reasons(records) == (expected_sources, expected_pages), services.logs()
    raws = await consume(common, common.topics.raw, until=lambda r: len(r) >= 1, timeout_s=30)
    assert [codec.decode(RawArticle, v).url for _, v in raws] == [site.url("/p/good")]
    assert all(s.alive() for s in services.started), services.logs()

    # The health record of each source is in the fetcher's state changelog.
    health = await read_health(common, f"{common.index_prefix}-fetcher")
    assert health["good"]["failures"] == 0 and health["good"]["items_seen"] == 4
    assert health["missing"]["failures"] >= 1
    assert health["missing"]["last_error_reason"] == "http-404"


async def test_a_plugin_kind_from_another_package_runs_in_the_worker(
    common: CommonSettings, services: Services, site: Site
) -> None:
    site.route("/a", static(PAGE, headers=HTML))
    site.route("/b", static(PAGE, headers=HTML))
    url = site.route("/links.txt", static(f"{site.url('/a')}\n{site.url('/b')}\n"))
    await put_sources(common, [FeedSource(id="ll", kind="linklist", url=url, interval_s=1)])
    # The plugin is "installed" by putting its folder (with its .dist-info) on the path.
    services.start("fetcher", PYTHONPATH=str(PLUGINS), **FETCHER_ENV)
    raws = await consume(common, common.topics.raw, until=lambda r: len(r) >= 2, timeout_s=60)
    articles = [codec.decode(RawArticle, v) for _, v in raws]
    assert sorted(a.url for a in articles) == [site.url("/a"), site.url("/b")], services.logs()
    assert {a.source_kind for a in articles} == {"linklist"}
