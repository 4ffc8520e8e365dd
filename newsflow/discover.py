"""Finding a site's feeds: ``<link rel=alternate>`` on its home page, ``Sitemap:`` in robots.txt."""

from __future__ import annotations

from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

from protego import Protego

from shared.http import FetchError, HttpClient

__all__ = ["Found", "discover"]

# Feed media types announced in <link rel="alternate" type=...>, and their kinds.
FEED_TYPES = {
    "application/rss+xml": "rss",
    "application/rdf+xml": "rss",
    "application/atom+xml": "atom",
    "application/feed+json": "jsonfeed",
    "application/json": "jsonfeed",
}


@dataclass(frozen=True)
class Found:
    """A feed or sitemap a site points to; ``via`` says where it was found."""

    url: str
    kind: str
    title: str
    via: str


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[dict[str, str]] = []
        self.base: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k.lower(): v or "" for k, v in attrs}
        if tag == "base" and values.get("href") and self.base is None:
            self.base = values["href"]
        if tag == "link" and "alternate" in values.get("rel", "").lower().split():
            self.links.append(values)


def _feed_links(page_url: str, html: str) -> list[Found]:
    parser = _Links()
    parser.feed(html)
    base = urljoin(page_url, parser.base) if parser.base else page_url
    found = []
    for link in parser.links:
        kind = FEED_TYPES.get(link.get("type", "").split(";")[0].strip().lower())
        href = link.get("href", "").strip()
        if kind and href:
            found.append(Found(urljoin(base, href), kind, link.get("title", "").strip(), "link"))
    return found


async def discover(url: str, http: HttpClient) -> list[Found]:
    """The feeds ``url``'s page announces and the sitemaps its robots.txt lists.

    A ``url`` that is itself a feed comes back as one. Raises
    :class:`FetchError` when the page cannot be fetched; a missing robots.txt
    only means no sitemaps.
    """
    response = await http.get(url)
    if response.status >= 400:
        raise FetchError(f"http-{response.status}", f"{url}: HTTP {response.status}")
    found: list[Found] = []
    content_type = response.content_type
    head = response.content[:512].lstrip().lower()
    if "rss" in content_type or "atom" in content_type or head.startswith((b"<rss", b"<feed")):
        kind = "atom" if b"<feed" in head or "atom" in content_type else "rss"
        found.append(Found(response.final_url, kind, "", "self"))
    elif "json" in content_type and b"jsonfeed.org" in response.content[:2048]:
        found.append(Found(response.final_url, "jsonfeed", "", "self"))
    else:
        found.extend(_feed_links(response.final_url, response.text()))
    parts = urlsplit(response.final_url)
    try:
        robots = await http.get(f"{parts.scheme}://{parts.netloc}/robots.txt")
    except FetchError:
        robots = None
    if robots is not None and robots.status < 300:
        for sitemap in Protego.parse(robots.text()).sitemaps:
            found.append(Found(sitemap, "sitemap", "", "robots.txt"))
    unique: dict[str, Found] = {}
    for item in found:
        unique.setdefault(item.url, item)
    return list(unique.values())
