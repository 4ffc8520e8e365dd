"""OPML import/export and feed discovery (the pure parts of the feed registry commands)."""

from __future__ import annotations

import pytest

from newsflow.discover import discover
from newsflow.opml import OpmlError, parse_opml, to_opml
from shared.http import HttpClient
from shared.models import FeedSource
from tests.unit.fetcher.site import Site, static

OPML = b"""<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0"><head><title>Subscriptions</title></head><body>
  <outline text="News">
    <outline text="World" title="World desk" type="rss" xmlUrl="https://news.example/world.xml"/>
    <outline text="Tech">
      <outline text="Gadgets" type="atom" xmlUrl="https://tech.example/atom"/>
      <outline text="JSON one" type="json" xmlUrl="https://json.example/feed.json"/>
    </outline>
  </outline>
  <outline text="World again" type="rss" xmlUrl="https://news.example/world.xml"/>
  <outline text="A bookmark" type="link" url="https://example.com/"/>
  <outline text="Gopher" type="rss" xmlUrl="gopher://old.example/feed"/>
  <outline text="Podcast" type="audio" xmlUrl="https://pod.example/feed"/>
  <outline text="Empty folder"/>
</body></opml>"""


def test_opml_import_walks_nested_outlines_and_reports_what_it_skips() -> None:
    result = parse_opml(OPML, interval_s=600)
    assert [(s.kind, s.url, s.options.get("category")) for s in result.sources] == [
        ("rss", "https://news.example/world.xml", "News"),
        ("atom", "https://tech.example/atom", "News/Tech"),
        ("jsonfeed", "https://json.example/feed.json", "News/Tech"),
    ]
    assert result.sources[0].name == "World desk" and result.sources[0].interval_s == 600
    assert {(s.title, s.why) for s in result.skipped} == {
        ("World again", "duplicate of an earlier outline"),
        ("A bookmark", "no xmlUrl (type 'link')"),
        ("Gopher", "not an http(s) URL"),
        ("Podcast", "unsupported type 'audio'"),
        ("Empty folder", "no xmlUrl"),
    }
    # Ids are stable: the same file imports to the same ids.
    assert [s.id for s in parse_opml(OPML).sources] == [s.id for s in result.sources]


def test_opml_round_trip_keeps_ids_kinds_intervals_and_folders() -> None:
    sources = [
        FeedSource(id="w", kind="rss", url="https://a.example/f", name="W", interval_s=120),
        FeedSource(
            id="s",
            kind="sitemap",
            url="https://b.example/news.xml",
            options={"category": "Maps/News"},
        ),
    ]
    back = parse_opml(to_opml(sources)).sources
    assert sorted((s.id, s.kind, s.url, s.interval_s, s.options.get("category")) for s in back) == [
        ("s", "sitemap", "https://b.example/news.xml", 300.0, "Maps/News"),
        ("w", "rss", "https://a.example/f", 120.0, None),
    ]


@pytest.mark.parametrize(
    "data",
    [
        b"<opml><body><outline",
        b"<rss/>",
        b'<?xml version="1.0"?><!DOCTYPE o [<!ENTITY a "aaa">]><opml><body/></opml>',
    ],
)
def test_what_is_not_opml_is_refused(data: bytes) -> None:
    with pytest.raises(OpmlError):
        parse_opml(data)


async def test_discovery_finds_link_alternates_and_robots_sitemaps(
    site: Site, http: HttpClient
) -> None:
    site.route(
        "/",
        static(
            """<html><head><title>Home</title>
            <link rel="alternate" type="application/rss+xml" title="All" href="/feed.xml">
            <link rel="alternate" type="application/atom+xml" href="https://cdn.example/atom">
            <link rel="alternate" type="application/feed+json" href="feed.json">
            <link rel="alternate" hreflang="de" href="/de/">
            <link rel="stylesheet" href="/s.css"></head><body></body></html>""",
            headers={"Content-Type": "text/html"},
        ),
    )
    site.route(
        "/robots.txt", static("User-agent: *\nAllow: /\nSitemap: https://news.example/news.xml\n")
    )
    found = await discover(site.url("/"), http)
    assert [(f.kind, f.url, f.via) for f in found] == [
        ("rss", site.url("/feed.xml"), "link"),
        ("atom", "https://cdn.example/atom", "link"),
        ("jsonfeed", site.url("/feed.json"), "link"),
        ("sitemap", "https://news.example/news.xml", "robots.txt"),
    ]
    assert found[0].title == "All"


async def test_discovery_of_a_feed_url_returns_the_feed_itself(
    site: Site, http: HttpClient
) -> None:
    url = site.route(
        "/feed", static("<rss version='2.0'/>", headers={"Content-Type": "application/rss+xml"})
    )
    assert [(f.kind, f.url) for f in await discover(url, http)] == [("rss", url)]
