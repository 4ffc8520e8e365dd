"""A generated news site for load and fault runs: many feeds, many distinct articles.

Article ``n`` is fully determined by ``n`` (its words come from a generator
seeded with it), so a test can render the same page the fetcher saw, build the
:class:`RawArticle` the fetcher would have emitted, and know the article id the
index must hold. Texts are random word sequences: no two are near-duplicates.

Items *appear* over time when the site is started with a publishing rate, so a
run can measure the delay from an item's first appearance in its feed to the
moment it is searchable.
"""

from __future__ import annotations

import html
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from shared.models import FeedSource, RawArticle
from shared.urls import article_id, canonical_url

__all__ = ["GeneratedSite", "expected_id", "page", "path", "raw_article", "sources", "title"]

# Function words of English prose, mixed into every text so extractors (which
# weigh stop words and sentence shape) read it as prose.
_PROSE = """
the of and to in a that for on with as was by at from it his her their said
after before during while because although since until across between
"""
_FUNCTION_WORDS = tuple(_PROSE.split())
# Content words: every two- and three-syllable combination, some 8,000. Drawn
# at random they make texts that share no more than chance, as distinct news
# stories do; a small vocabulary would make every text a near-duplicate of all.
_SYLLABLES: tuple[str, ...] = ("ba", "ce", "di", "fo", "gu", "ka", "le", "mi", "no", "pu")
_SYLLABLES += ("ra", "se", "ti", "vo", "zu", "an", "el", "in", "or", "us")
_CONTENT_WORDS = tuple(
    [a + b for a in _SYLLABLES for b in _SYLLABLES]
    + [a + b + c for a in _SYLLABLES for b in _SYLLABLES for c in _SYLLABLES]
)
_OUTLET = "generated-news"


@dataclass(frozen=True)
class _Layout:
    feeds: int
    per_feed: int


def _words(rng: random.Random, count: int) -> str:
    # About one word in three is a function word, as in English.
    return " ".join(
        rng.choice(_FUNCTION_WORDS if rng.random() < 0.35 else _CONTENT_WORDS) for _ in range(count)
    )


def _paragraphs(n: int) -> list[str]:
    rng = random.Random(n)
    return [_words(rng, rng.randint(45, 70)).capitalize() + "." for _ in range(rng.randint(4, 6))]


def title(n: int) -> str:
    """The headline of article ``n``."""
    rng = random.Random(-n - 1)
    return f"{_words(rng, 7).capitalize()} ({n})"


def path(n: int) -> str:
    return f"/a/{n}.html"


def page(n: int, base_url: str) -> str:
    """The HTML page of article ``n``, with the chrome a real site wraps around it."""
    body = "\n".join(f"<p>{html.escape(p)}</p>" for p in _paragraphs(n))
    head = html.escape(title(n))
    return f"""<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<title>{head} | Generated News</title><link rel="canonical" href="{base_url}{path(n)}">
<meta property="og:site_name" content="Generated News"></head><body>
<header><div class="logo">Generated News</div>
<nav><a href="/">Home</a> <a href="/local">Local</a></nav></header>
<div class="cookie-banner">We use cookies. <button>Accept all</button></div>
<main><article><h1>{head}</h1><p class="byline">By Staff Writer</p>{body}</article></main>
<aside class="newsletter"><h3>Get the morning briefing</h3>
<p>Sign up for our newsletter.</p></aside>
<footer><p>© Generated News. All rights reserved.</p></footer></body></html>"""


def raw_article(n: int, base_url: str, source_id: str = "injected") -> RawArticle:
    """The message the fetcher would emit for article ``n``."""
    url = f"{base_url}{path(n)}"
    return RawArticle(
        id=article_id(canonical_url(url)),
        source_id=source_id,
        source_kind="rss",
        url=url,
        final_url=url,
        fetched_at=datetime.now(UTC),
        body=page(n, base_url),
        feed_title=title(n),
    )


def expected_id(n: int, base_url: str) -> str:
    """The document id article ``n`` gets, however it entered the pipeline."""
    return article_id(canonical_url(f"{base_url}{path(n)}"))


def sources(
    base_url: str, feeds: int, *, interval_s: float, prefix: str = "gen"
) -> list[FeedSource]:
    """The site's feeds as sources for the registry, with ids ``<prefix>-<n>``."""
    return [
        FeedSource(
            id=f"{prefix}-{f}", kind="rss", url=f"{base_url}/feed/{f}.xml", interval_s=interval_s
        )
        for f in range(feeds)
    ]


class _Handler(BaseHTTPRequestHandler):
    server: GeneratedSite
    # Keep-alive, as real news sites serve: under HTTP/1.0 every page was a
    # new connection (and a new thread here), which cost the fetcher and the
    # site more CPU than the pages themselves.
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        route = self.path.split("?")[0]
        if route.startswith("/feed/") and route.endswith(".xml"):
            feed = int(route[len("/feed/") : -len(".xml")])
            # Like most real feeds, answer a conditional GET of an unchanged
            # feed with 304, so polling costs what it costs in production.
            etag = f'"{feed}-{self.server.listed(feed)}"'
            if self.headers.get("If-None-Match") == etag:
                self.send_response(304)
                self.send_header("ETag", etag)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return None
            return self._send("application/rss+xml", self.server.feed(feed), etag)
        if route.startswith("/a/") and route.endswith(".html"):
            n = int(route[len("/a/") : -len(".html")])
            if self.server.visible(n):
                return self._send("text/html; charset=utf-8", self.server.page_bytes(n))
        self.send_error(404)

    def _send(self, content_type: str, body: str | bytes, etag: str | None = None) -> None:
        data = body.encode("utf-8") if isinstance(body, str) else body
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        if etag is not None:
            self.send_header("ETag", etag)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass


class GeneratedSite(ThreadingHTTPServer):
    """``feeds`` feeds; feed ``f`` lists articles ``offset + f*per_feed …`` (newest first).

    With ``rate`` (items per second over all feeds) items appear one by one
    from the start; without it, all are there at once. ``appeared[n]`` is the
    wall-clock time article ``n`` first appeared in its feed: with a rate, the
    moment it was published (so a delay counted from it includes the wait for
    the next poll), without one, the first time a feed listed it. ``served[n]``
    is the first time a feed response listed it, with a rate or without: the
    fetcher's share of the delay starts there.
    """

    daemon_threads = True
    request_queue_size = 256

    def __init__(
        self,
        feeds: int,
        per_feed: int,
        *,
        offset: int = 0,
        rate: float | None = None,
        clock: Callable[[], float] = time.time,
        port: int = 0,
    ) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.base_url = f"http://127.0.0.1:{self.server_address[1]}"
        self._layout = _Layout(feeds, per_feed)
        self._offset = offset
        self._rate = rate
        self._clock = clock
        self._started = clock()
        self.appeared: dict[int, float] = {}
        self.served: dict[int, float] = {}
        self._lock = threading.Lock()
        self._pages: dict[int, bytes] = {}

    def page_bytes(self, n: int) -> bytes:
        """The page of article ``n`` as served (rendered once, then kept)."""
        data = self._pages.get(n)
        if data is None:
            data = self._pages[n] = page(n, self.base_url).encode("utf-8")
        return data

    def prerender(self) -> None:
        """Render every page now, so a measurement does not count the site
        generating them (remote sites do that on their own machines)."""
        for n in self.numbers():
            self.page_bytes(n)

    @property
    def total(self) -> int:
        return self._layout.feeds * self._layout.per_feed

    def numbers(self) -> range:
        """Every article number the site will ever list."""
        return range(self._offset, self._offset + self.total)

    def _published(self) -> int:
        """How many items (in round-robin order over the feeds) are listed by now."""
        if self._rate is None:
            return self.total
        return min(self.total, int((self._clock() - self._started) * self._rate))

    def _items(self, feed: int) -> list[int]:
        published = self._published()
        feeds = self._layout.feeds
        # Round-robin: item k of feed f is the (k*feeds + f)-th to appear.
        count = max(0, (published - feed + feeds - 1) // feeds)
        count = min(count, self._layout.per_feed)
        return [self._offset + feed * self._layout.per_feed + k for k in range(count)]

    def listed(self, feed: int) -> int:
        """How many items feed ``feed`` lists now (its version, for the ETag)."""
        return len(self._items(feed))

    def start_publishing(self) -> None:
        """Restart the clock of a site with a rate: its first item appears one
        step from now. A run calls it once its sources are registered, so the
        workers' start-up is not counted as delay of the first items."""
        with self._lock:
            self._started = self._clock()
            self.appeared.clear()
            self.served.clear()

    def published_at(self, n: int) -> float:
        """When article ``n`` of a site with a rate joins its feed (see :meth:`_items`)."""
        assert self._rate is not None
        feed, k = divmod(n - self._offset, self._layout.per_feed)
        return self._started + (k * self._layout.feeds + feed + 1) / self._rate

    def visible(self, n: int) -> bool:
        return n in self.appeared or self._rate is None

    def feed(self, feed: int) -> str:
        items = self._items(feed)
        now = self._clock()
        with self._lock:
            for n in items:
                if n not in self.appeared:
                    self.appeared[n] = now if self._rate is None else self.published_at(n)
                    self.served[n] = now
        stamp = format_datetime(datetime.now(UTC))
        entries = "".join(
            f"<item><title>{html.escape(title(n))}</title><link>{self.base_url}{path(n)}</link>"
            f"<guid>{self.base_url}{path(n)}</guid><pubDate>{stamp}</pubDate></item>"
            for n in reversed(items)
        )
        return (
            '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
            f"<title>{_OUTLET} {feed}</title><link>{self.base_url}/</link>"
            f"<description>generated</description>{entries}</channel></rss>"
        )

    def start_in_thread(self) -> threading.Thread:
        thread = threading.Thread(target=self.serve_forever, daemon=True, name="generated-site")
        thread.start()
        return thread
