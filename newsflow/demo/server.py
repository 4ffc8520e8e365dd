"""The demo site's HTTP server: feeds and article pages with realistic site chrome.

Serves on loopback only. Besides the three outlets it has ``/broken/feed.xml``,
a malformed feed, so the pipeline's handling of bad sources can be watched.
"""

from __future__ import annotations

import html
import threading
from datetime import datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from newsflow.demo.content import ARTICLES, OUTLETS, Article, Outlet, demo_now
from shared.models import FeedSource

__all__ = ["DemoServer", "demo_sources", "render_page"]


def _chrome_top(outlet: Outlet) -> str:
    return f"""<header class="site-header"><div class="logo">{outlet.name}</div>
<nav><ul><li><a href="/{outlet.slug}/">Home</a></li><li><a href="/{outlet.slug}/local">Local</a></li>
<li><a href="/{outlet.slug}/weather">Weather</a></li><li><a href="/{outlet.slug}/subscribe">Subscribe</a></li>
</ul></nav></header>
<div class="cookie-banner">We use cookies to improve your experience. <button>Accept all</button></div>"""


def _chrome_bottom(outlet: Outlet, others: list[Article]) -> str:
    related = "".join(f'<li><a href="{a.path}">{html.escape(a.title)}</a></li>' for a in others)
    return f"""<aside class="newsletter"><h3>Get the morning briefing</h3>
<p>Sign up for our newsletter and never miss a story.</p><form><input type="email"><button>Sign up</button></form></aside>
<section class="related"><h3>Related Articles</h3><ul>{related}</ul></section>
<section class="comments"><h3>Comments</h3><p>No comments yet. Be the first to comment.</p></section>
<footer><p>© {outlet.name}. All rights reserved.</p><a href="/{outlet.slug}/privacy">Privacy</a>
<a href="/{outlet.slug}/terms">Terms</a><p>Download our app on the App Store and Google Play.</p></footer>"""


def render_page(article: Article, base_url: str, now: datetime) -> str:
    """The HTML page of ``article`` as its outlet would serve it."""
    outlet = next(o for o in OUTLETS if o.slug == article.outlet)
    others = [a for a in ARTICLES if a.outlet == article.outlet and a is not article][:3]
    canonical = f"{base_url}{article.canonical or article.path}"
    published = article.published(now).isoformat()
    body = "\n".join(f"<p>{html.escape(p)}</p>" for p in article.paragraphs)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{html.escape(article.title)} | {outlet.name}</title>
<link rel="canonical" href="{canonical}">
<meta property="og:site_name" content="{outlet.name}">
<meta property="og:title" content="{html.escape(article.title)}">
<meta name="author" content="{html.escape(article.author)}">
<meta property="article:published_time" content="{published}">
</head><body>
{_chrome_top(outlet)}
<main><article>
<h1>{html.escape(article.title)}</h1>
<p class="byline">By {html.escape(article.author)} · <time datetime="{published}">{published[:10]}</time></p>
<div class="share">Share: Facebook Twitter Email</div>
{body}
</article></main>
{_chrome_bottom(outlet, others)}
</body></html>"""


def _rss(outlet: Outlet, items: list[Article], base_url: str, now: datetime) -> str:
    entries = "".join(
        f"""<item><title>{html.escape(a.title)}</title><link>{base_url}{a.path}</link>
<guid isPermaLink="true">{base_url}{a.path}</guid>
<pubDate>{format_datetime(a.published(now))}</pubDate></item>"""
        for a in items
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>{outlet.name}</title><link>{base_url}/{outlet.slug}/</link>
<description>News from {outlet.name}</description><ttl>1</ttl>{entries}</channel></rss>"""


def _atom(outlet: Outlet, items: list[Article], base_url: str, now: datetime) -> str:
    entries = "".join(
        f"""<entry><title>{html.escape(a.title)}</title><link href="{base_url}{a.path}"/>
<id>tag:{outlet.slug},2026:{a.slug}</id><updated>{a.published(now).isoformat()}</updated>
<author><name>{html.escape(a.author)}</name></author></entry>"""
        for a in items
    )
    return f"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>{outlet.name}</title>
<id>tag:{outlet.slug},2026:feed</id><updated>{now.isoformat()}</updated>{entries}</feed>"""


_BROKEN_FEED = """<?xml version="1.0"?><rss version="2.0"><channel><title>Broken<item>
<title>never closed</titl></channel"""


class _Handler(BaseHTTPRequestHandler):
    server: DemoServer

    def do_GET(self) -> None:
        base, now = self.server.base_url, self.server.now
        path = self.path.split("?")[0]
        for outlet in OUTLETS:
            items = [a for a in ARTICLES if a.outlet == outlet.slug]
            if path == f"/{outlet.slug}/feed.xml":
                body = (_rss if outlet.feed_kind == "rss" else _atom)(outlet, items, base, now)
                kind = (
                    "application/rss+xml" if outlet.feed_kind == "rss" else "application/atom+xml"
                )
                return self._send(200, kind, body)
        for article in ARTICLES:
            if path == article.path:
                return self._send(200, "text/html; charset=utf-8", render_page(article, base, now))
        if path == "/broken/feed.xml":
            return self._send(200, "application/rss+xml", _BROKEN_FEED)
        self._send(404, "text/plain", "not found")

    def _send(self, status: int, content_type: str, body: str) -> None:
        data = body.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass


class DemoServer(ThreadingHTTPServer):
    """The demo site on ``host:port`` (port 0 picks a free one)."""

    daemon_threads = True

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__((host, port), _Handler)
        self.now = demo_now()
        self.base_url = f"http://{host}:{self.server_address[1]}"

    def start_in_thread(self) -> threading.Thread:
        thread = threading.Thread(target=self.serve_forever, daemon=True, name="demo-server")
        thread.start()
        return thread


def demo_sources(base_url: str, *, interval_s: float = 30.0) -> list[FeedSource]:
    """The demo outlets as sources for the feed registry."""
    return [
        FeedSource(
            id=f"demo-{o.slug}",
            kind=o.feed_kind,
            url=f"{base_url}/{o.slug}/feed.xml",
            name=o.name,
            interval_s=interval_s,
        )
        for o in OUTLETS
    ]
