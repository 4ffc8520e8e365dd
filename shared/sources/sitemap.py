"""XML sitemaps, sitemap indexes and the Google News sitemap extension.

A news site's sitemap lists its article pages, with ``<lastmod>`` and, in a
News sitemap, ``<news:publication_date>`` and ``<news:title>``. An index
lists sitemaps; the newest of them are polled (each with its own
validators), because a news site adds to its latest sitemap only.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.exceptions import PoisonMessage
from shared.http import FetchError, HttpClient
from shared.models import FeedSource
from shared.sources.base import PollResult, PollState, SourceItem
from shared.sources.common import check_body, conditional_get, parse_xml

__all__ = ["SitemapSourceKind", "parse_sitemap"]

# Defaults of the source options; each can be set per source.
DEFAULT_MAX_SITEMAPS = 10  # newest child sitemaps of an index polled each time
DEFAULT_MAX_ITEMS = 1000  # newest entries offered per poll
DEFAULT_MAX_AGE_DAYS = 7.0  # a news site's archive is not news: older dated entries are skipped
# The sitemap protocol's own ceiling for one (uncompressed) sitemap file.
PROTOCOL_MAX_BYTES = 50 * 1024 * 1024


@dataclass(frozen=True)
class SitemapEntry:
    loc: str
    lastmod: datetime | None = None
    title: str | None = None
    published_at: datetime | None = None
    news: bool = False

    @property
    def when(self) -> datetime | None:
        return self.published_at or self.lastmod


@dataclass(frozen=True)
class Sitemap:
    """A parsed sitemap: either ``entries`` (a urlset) or ``children`` (an index)."""

    entries: list[SitemapEntry]
    children: list[SitemapEntry]


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _text(element: ET.Element, name: str) -> str | None:
    for child in element:
        if _local(child.tag) == name and child.text and child.text.strip():
            return child.text.strip()
    return None


def _child(element: ET.Element, name: str) -> ET.Element | None:
    return next((c for c in element if _local(c.tag) == name), None)


def _date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    # W3C datetime allows a bare date; it means that day, UTC.
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def parse_sitemap(url: str, content: bytes) -> Sitemap:
    """Parse a urlset or a sitemap index (gzip-compressed or not).

    Raises :class:`PoisonMessage` for anything else (``malformed-xml``,
    ``not-a-sitemap``, ``xml-entities``).
    """
    root = parse_xml(url, content)
    kind = _local(root.tag)
    if kind not in ("urlset", "sitemapindex"):
        raise PoisonMessage("not-a-sitemap", f"{url}: root element <{kind}> is not a sitemap")
    entries: list[SitemapEntry] = []
    children: list[SitemapEntry] = []
    for element in root:
        name = _local(element.tag)
        loc = _text(element, "loc")
        if not loc or not loc.startswith(("http://", "https://")):
            continue
        lastmod = _date(_text(element, "lastmod"))
        if name == "sitemap":
            children.append(SitemapEntry(loc, lastmod))
        elif name == "url":
            news = _child(element, "news")
            entries.append(
                SitemapEntry(
                    loc,
                    lastmod,
                    title=_text(news, "title") if news is not None else None,
                    published_at=(
                        _date(_text(news, "publication_date")) if news is not None else None
                    ),
                    news=news is not None,
                )
            )
    return Sitemap(entries, children)


def _gunzip(url: str, content: bytes, limit: int) -> bytes:
    """Inflate a gzip file served as such (``.xml.gz``), never beyond ``limit``."""
    if not content.startswith(b"\x1f\x8b"):
        return content
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(content, limit + 1)
    except zlib.error as exc:
        raise PoisonMessage("bad-encoding", f"{url}: broken gzip ({exc})") from exc
    if len(out) > limit:
        raise FetchError("too-large", f"{url}: sitemap over {limit} bytes (decompressed)")
    return out


def _newest_first(entries: list[SitemapEntry]) -> list[SitemapEntry]:
    floor = datetime.min.replace(tzinfo=UTC)
    return sorted(entries, key=lambda e: e.when or floor, reverse=True)


class SitemapSourceKind:
    """The ``sitemap`` kind: a sitemap, a sitemap index, or a Google News sitemap.

    Options: ``max_sitemaps`` (children of an index polled, newest first),
    ``max_items`` (entries offered, newest first), ``max_age_days`` (dated
    entries older than this are skipped; 0 keeps all), ``news_only`` (only
    entries with ``<news:news>``), ``max_bytes`` (per sitemap file, up to the
    protocol's 50 MB).
    """

    async def poll(self, source: FeedSource, state: PollState, http: HttpClient) -> PollResult:
        options = source.options
        limit = min(int(options.get("max_bytes", http.max_bytes)), PROTOCOL_MAX_BYTES)
        got = await conditional_get(source.url, state, http, max_bytes=limit)
        children_state: dict[str, Any] = dict(state.extra.get("children", {}))
        entries: list[SitemapEntry] = []
        child_urls: list[str]
        if got.response is not None:
            content = _gunzip(source.url, got.response.content, limit)
            check_body(source.url, content)
            sitemap = parse_sitemap(source.url, content)
            entries = sitemap.entries
            max_sitemaps = int(options.get("max_sitemaps", DEFAULT_MAX_SITEMAPS))
            child_urls = [c.loc for c in _newest_first(sitemap.children)[:max_sitemaps]]
        else:
            child_urls = list(children_state)  # the index did not change; its children may have
        changed = got.response is not None
        new_children: dict[str, Any] = {}
        errors: list[FetchError | PoisonMessage] = []
        for child_url in child_urls:
            child_state = PollState(**children_state.get(child_url, {}))
            try:
                child = await conditional_get(child_url, child_state, http, max_bytes=limit)
                new_children[child_url] = child.state.model_dump(exclude={"extra"})
                if child.response is None:
                    continue
                changed = True
                content = _gunzip(child_url, child.response.content, limit)
                check_body(child_url, content)
                entries.extend(parse_sitemap(child_url, content).entries)
            except (FetchError, PoisonMessage) as exc:
                # One broken child does not hide the others; the source fails
                # only when every child did.
                errors.append(exc)
                new_children[child_url] = children_state.get(child_url, {})
        if child_urls and len(errors) == len(child_urls):
            raise errors[0]
        new_state = got.state.model_copy(update={"extra": {"children": new_children}})
        if not changed:
            return PollResult(
                state=new_state, not_modified=True, ttl_s=got.ttl_s, final_url=got.final_url
            )
        return PollResult(
            items=self._select(entries, options),
            state=new_state,
            ttl_s=got.ttl_s,
            final_url=got.final_url,
        )

    @staticmethod
    def _select(entries: list[SitemapEntry], options: dict[str, Any]) -> list[SourceItem]:
        max_age_days = float(options.get("max_age_days", DEFAULT_MAX_AGE_DAYS))
        oldest = datetime.now(UTC) - timedelta(days=max_age_days) if max_age_days > 0 else None
        news_only = bool(options.get("news_only", False))
        chosen = [
            e
            for e in entries
            if (not news_only or e.news) and (oldest is None or e.when is None or e.when >= oldest)
        ]
        max_items = int(options.get("max_items", DEFAULT_MAX_ITEMS))
        unique = {e.loc: e for e in reversed(_newest_first(chosen))}  # newest wins per loc
        return [
            SourceItem(url=e.loc, guid=e.loc, title=e.title, published_at=e.when)
            for e in _newest_first(list(unique.values()))[:max_items]
        ]
