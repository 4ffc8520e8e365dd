"""The built-in source kinds: JSON Feed, sitemaps, pages, local files, and bad feeds."""

from __future__ import annotations

import gzip
import json
import os
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from shared.exceptions import PoisonMessage
from shared.http import FetchError, HttpClient
from shared.models import FeedSource
from shared.sources import PollState, available_kinds, load_source
from shared.sources.feed import FeedSourceKind
from shared.sources.files import FilesSourceKind
from shared.sources.jsonfeed import JsonFeedSourceKind
from shared.sources.pages import PagesSourceKind
from shared.sources.sitemap import SitemapSourceKind
from tests.unit.fetcher.conftest import LOOPBACK
from tests.unit.fetcher.site import Site, static

SEED = Path("/work/shared/seed/scraped-page-example.txt")


def _source(kind: str, url: str, **options: object) -> FeedSource:
    return FeedSource(id="s", kind=kind, url=url, options=options)


def test_every_builtin_kind_is_an_entry_point() -> None:
    assert {"rss", "atom", "jsonfeed", "sitemap", "pages", "files"} <= set(available_kinds())
    assert isinstance(load_source("sitemap"), SitemapSourceKind)


# --- JSON Feed -------------------------------------------------------------------

JSONFEED = {
    "version": "https://jsonfeed.org/version/1.1",
    "title": "J",
    "items": [
        {
            "id": 1,
            "url": "http://site.test/j/1",
            "title": "One",
            "content_html": "<p>full text</p>",
            "date_published": "2026-03-03T10:00:00Z",
        },
        {"id": "2", "external_url": "http://other.test/2", "content_text": "plain"},
        {"id": "3", "content_text": "no link: skipped"},
        "not an object",
    ],
}


async def test_json_feed_items(site: Site, http: HttpClient) -> None:
    url = site.route(
        "/feed.json",
        static(json.dumps(JSONFEED), headers={"Content-Type": "application/feed+json"}),
    )
    result = await JsonFeedSourceKind().poll(_source("jsonfeed", url), PollState(), http)
    assert [(i.url, i.guid, i.body) for i in result.items] == [
        ("http://site.test/j/1", "1", None),
        ("http://other.test/2", "2", None),
    ]
    assert result.items[0].published_at == datetime(2026, 3, 3, 10, tzinfo=UTC)
    again = await JsonFeedSourceKind().poll(_source("jsonfeed", url), result.state, http)
    assert again.not_modified


async def test_json_feed_full_content_when_asked(site: Site, http: HttpClient) -> None:
    url = site.route("/feed.json", static(json.dumps(JSONFEED)))
    source = _source("jsonfeed", url, use_content=True)
    result = await JsonFeedSourceKind().poll(source, PollState(), http)
    assert [(i.body, i.body_kind) for i in result.items] == [
        ("<p>full text</p>", "html"),
        ("plain", "text"),
    ]


@pytest.mark.parametrize(
    "body", ["{not json", json.dumps({"items": []}), json.dumps([1, 2]), '{"version": "x"}']
)
async def test_json_that_is_not_a_json_feed_is_poison(
    site: Site, http: HttpClient, body: str
) -> None:
    url = site.route("/feed.json", static(body))
    with pytest.raises(PoisonMessage) as info:
        await JsonFeedSourceKind().poll(_source("jsonfeed", url), PollState(), http)
    assert info.value.reason == "malformed-feed"


# --- sitemaps --------------------------------------------------------------------


def _urlset(entries: list[tuple[str, str]], news: bool = False) -> str:
    rows = []
    for loc, when in entries:
        extra = (
            f"<news:news><news:publication><news:name>P</news:name><news:language>en"
            f"</news:language></news:publication><news:publication_date>{when}"
            f"</news:publication_date><news:title>T {loc[-1]}</news:title></news:news>"
            if news
            else f"<lastmod>{when}</lastmod>"
        )
        rows.append(f"<url><loc>{loc}</loc>{extra}</url>")
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
        'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">' + "".join(rows) + "</urlset>"
    )


def _recent(hours: float) -> str:
    return (datetime.now(UTC) - timedelta(hours=hours)).isoformat()


async def test_sitemap_entries_newest_first_and_old_ones_skipped(
    site: Site, http: HttpClient
) -> None:
    body = _urlset(
        [
            ("http://site.test/a/1", _recent(5)),
            ("http://site.test/a/2", _recent(1)),
            ("http://site.test/a/3", "2001-01-01"),
        ]
    )
    url = site.route("/sitemap.xml", static(body))
    result = await SitemapSourceKind().poll(_source("sitemap", url), PollState(), http)
    assert [i.url for i in result.items] == ["http://site.test/a/2", "http://site.test/a/1"]
    every = await SitemapSourceKind().poll(
        _source("sitemap", url, max_age_days=0, max_items=2), PollState(), http
    )
    assert [i.url for i in every.items] == ["http://site.test/a/2", "http://site.test/a/1"]


async def test_google_news_sitemap_gives_titles_and_publication_dates(
    site: Site, http: HttpClient
) -> None:
    url = site.route("/news.xml", static(_urlset([("http://site.test/n/1", _recent(2))], True)))
    result = await SitemapSourceKind().poll(
        _source("sitemap", url, news_only=True), PollState(), http
    )
    [item] = result.items
    assert item.title == "T 1" and item.published_at is not None


async def test_sitemap_index_polls_its_newest_children_each_conditionally(
    site: Site, http: HttpClient
) -> None:
    site.route("/s1.xml", static(_urlset([("http://site.test/x/1", _recent(1))])))
    site.route(
        "/s2.xml.gz",
        static(gzip.compress(_urlset([("http://site.test/x/2", _recent(2))]).encode())),
    )
    site.route("/s0.xml", static(_urlset([("http://site.test/x/0", _recent(3))])))
    index = (
        '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"<sitemap><loc>{site.url('/s0.xml')}</loc><lastmod>2020-01-01</lastmod></sitemap>"
        f"<sitemap><loc>{site.url('/s1.xml')}</loc><lastmod>{_recent(1)}</lastmod></sitemap>"
        f"<sitemap><loc>{site.url('/s2.xml.gz')}</loc><lastmod>{_recent(2)}</lastmod></sitemap>"
        "</sitemapindex>"
    )
    url = site.route("/index.xml", static(index))
    source = _source("sitemap", url, max_sitemaps=2)
    result = await SitemapSourceKind().poll(source, PollState(), http)
    assert [i.url for i in result.items] == ["http://site.test/x/1", "http://site.test/x/2"]
    assert site.hits["/s0.xml"] == 0  # older than the newest two
    again = await SitemapSourceKind().poll(source, result.state, http)
    assert again.not_modified and again.items == []
    assert site.hits["/s1.xml"] == 2  # the children are polled even when the index is unchanged


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("<urlset><url><loc>http://x/1</loc>", "malformed-xml"),
        ("<html><body>hello</body></html>", "not-a-sitemap"),
        (
            '<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]>'
            "<urlset><url><loc>&b;</loc></url></urlset>",
            "xml-entities",
        ),
        (
            '<?xml version="1.0"?><!DOCTYPE l [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
            "<urlset><url><loc>&x;</loc></url></urlset>",
            "xml-entities",
        ),
        ("", "empty-body"),
    ],
)
async def test_bad_sitemaps_are_poison_with_a_reason(
    site: Site, http: HttpClient, body: str, reason: str
) -> None:
    url = site.route("/sitemap.xml", static(body))
    with pytest.raises(PoisonMessage) as info:
        await SitemapSourceKind().poll(_source("sitemap", url), PollState(), http)
    assert info.value.reason == reason


# --- rss/atom: bad input -------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "empty-body"),
        (b"   \n", "empty-body"),
        (b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8, "binary-body"),
        (b"<rss><channel><item><title>broken", "malformed-feed"),
        (b"<html><body><p>Welcome</p></body></html>", "malformed-feed"),
        (
            b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa">]>'
            b"<rss><channel><item><link>&a;</link></item></channel></rss>",
            "xml-entities",
        ),
    ],
)
async def test_bad_feeds_are_poison_with_a_reason(
    site: Site, http: HttpClient, body: bytes, reason: str
) -> None:
    url = site.route("/feed.xml", static(body))
    with pytest.raises(PoisonMessage) as info:
        await FeedSourceKind().poll(_source("rss", url), PollState(), http)
    assert info.value.reason == reason


async def test_a_valid_feed_without_items_is_no_error(site: Site, http: HttpClient) -> None:
    url = site.route(
        "/feed.xml", static('<rss version="2.0"><channel><title>Quiet</title></channel></rss>')
    )
    result = await FeedSourceKind().poll(_source("rss", url), PollState(), http)
    assert result.items == []


async def test_feed_ttl_and_cache_control_are_both_hints(site: Site, http: HttpClient) -> None:
    body = '<rss version="2.0"><channel><ttl>5</ttl><item><link>http://s/1</link></item></channel></rss>'
    url = site.route("/feed.xml", static(body, headers={"Cache-Control": "max-age=900"}))
    result = await FeedSourceKind().poll(_source("rss", url), PollState(), http)
    assert result.ttl_s == 900


@pytest.mark.parametrize("status", [404, 410, 500])
async def test_http_errors_carry_the_status(site: Site, http: HttpClient, status: int) -> None:
    url = site.route("/feed.xml", static("nope", status=status))
    with pytest.raises(FetchError) as info:
        await FeedSourceKind().poll(_source("rss", url), PollState(), http)
    assert info.value.reason == f"http-{status}"
    assert info.value.transient == (status == 500)


# --- pages ------------------------------------------------------------------------


async def test_pages_lists_its_urls_once_each(http: HttpClient) -> None:
    source = _source(
        "pages", "http://site.test/", urls=["http://site.test/a", "http://site.test/a", " "]
    )
    result = await PagesSourceKind().poll(source, PollState(), http)
    assert [i.url for i in result.items] == ["http://site.test/a"]
    assert (await PagesSourceKind().poll(source, result.state, http)).not_modified
    single = await PagesSourceKind().poll(_source("pages", "http://s.test/x"), PollState(), http)
    assert [i.key for i in single.items] == ["http://s.test/x"]
    with pytest.raises(PoisonMessage):
        await PagesSourceKind().poll(_source("pages", "file:///etc/passwd"), PollState(), http)


# --- files ------------------------------------------------------------------------


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "dumps"
    (root / "sub").mkdir(parents=True)
    (root / "one.txt").write_text("A headline\n\nSome text of a page.\n")
    (root / "sub" / "two.html").write_text("<html><title>Two</title><p>body</p></html>")
    (root / "skip.pdf").write_bytes(b"%PDF-1.4")
    return root


async def test_files_become_items_with_their_body(folder: Path) -> None:
    http = HttpClient(file_roots=[folder.parent], policy=LOOPBACK)
    kind = FilesSourceKind()
    result = await kind.poll(_source("files", folder.as_uri()), PollState(), http)
    by_name = {Path(i.url).name: i for i in result.items}
    assert set(by_name) == {"one.txt", "two.html"}
    assert by_name["one.txt"].body_kind == "text" and by_name["one.txt"].title == "A headline"
    assert by_name["two.html"].body_kind == "html" and "<p>body</p>" in str(
        by_name["two.html"].body
    )

    # Nothing changed: nothing offered, nothing read.
    again = await kind.poll(_source("files", str(folder)), result.state, http)
    assert again.not_modified and again.items == []
    # A new file and a changed one are offered; the changed one under a new key.
    (folder / "three.txt").write_text("Third\ntext")
    (folder / "one.txt").write_text("A headline, corrected\n\ntext")
    later = await kind.poll(_source("files", str(folder)), again.state, http)
    assert {Path(i.url).name for i in later.items} == {"one.txt", "three.txt"}
    assert by_name["one.txt"].key not in {i.key for i in later.items}


async def test_files_come_in_batches_without_loss(folder: Path) -> None:
    for n in range(7):
        (folder / f"batch{n}.txt").write_text(f"title {n}\nbody")
    http = HttpClient(file_roots=[folder])
    kind, state, seen = FilesSourceKind(), PollState(), set()
    source = _source("files", str(folder), max_files=3)
    for _ in range(5):
        result = await kind.poll(source, state, http)
        seen |= {Path(i.url).name for i in result.items}
        state = result.state
        if not result.more:
            break
    assert len(seen) == 9


async def test_the_scraped_page_example_is_one_text_article(tmp_path: Path) -> None:
    if not SEED.exists():
        pytest.skip("the shared seed file is not on this machine")
    shutil.copy(SEED, tmp_path / SEED.name)
    http = HttpClient(file_roots=[tmp_path])
    result = await FilesSourceKind().poll(_source("files", str(tmp_path)), PollState(), http)
    [item] = result.items
    assert item.body_kind == "text" and item.body and len(item.body) > 1000
    assert item.url == (tmp_path / SEED.name).as_uri()


async def test_files_outside_the_roots_are_refused(folder: Path, tmp_path: Path) -> None:
    with pytest.raises(FetchError) as info:
        await FilesSourceKind().poll(_source("files", str(folder)), PollState(), HttpClient())
    assert info.value.reason == "blocked-path"
    # A symlink inside the folder that leads outside it is not followed.
    secret = tmp_path / "secret.txt"
    secret.write_text("do not publish")
    os.symlink(secret, folder / "link.txt")
    http = HttpClient(file_roots=[folder])
    result = await FilesSourceKind().poll(_source("files", str(folder)), PollState(), http)
    assert "link.txt" not in {Path(i.url).name for i in result.items}
