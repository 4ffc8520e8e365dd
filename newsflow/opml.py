"""OPML feed lists in and out of the feed registry.

Import walks nested outlines (folders become a ``category`` option), makes a
source of each outline with an ``xmlUrl``, and reports every outline it skips
with the reason. Export writes one outline per source, with newsflow's own
attributes (id, kind, interval) so that a round trip keeps them.
"""

from __future__ import annotations

import hashlib
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass, field

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException
from pydantic import ValidationError

from shared.models import FeedSource

__all__ = ["OpmlError", "OpmlImport", "Skipped", "parse_opml", "to_opml"]

# OPML ``type`` attributes and the source kinds they map to. Readers write
# type="rss" for Atom feeds too; feedparser reads both, so that is harmless.
KINDS = {
    "rss": "rss",
    "atom": "atom",
    "jsonfeed": "jsonfeed",
    "json": "jsonfeed",
    "sitemap": "sitemap",
}
_NEWSFLOW = "newsflow"  # prefix of our own outline attributes


class OpmlError(ValueError):
    """The file is not OPML (or not well-formed XML)."""


@dataclass(frozen=True)
class Skipped:
    """An outline that did not become a source."""

    title: str
    url: str | None
    why: str


@dataclass
class OpmlImport:
    sources: list[FeedSource] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40] or "feed"


def source_id(title: str, url: str) -> str:
    """A readable id that is stable for the same feed URL."""
    return f"{_slug(title)}-{hashlib.sha1(url.encode()).hexdigest()[:8]}"


def parse_opml(data: bytes, *, interval_s: float = 300.0) -> OpmlImport:
    """The sources an OPML document lists, and the outlines skipped with why.

    Raises :class:`OpmlError` for a document that is not OPML. Entity
    declarations are refused (defusedxml).
    """
    try:
        root = SafeET.fromstring(data)
    except DefusedXmlException as exc:
        raise OpmlError(f"refused: the document declares entities ({type(exc).__name__})") from exc
    except ET.ParseError as exc:
        raise OpmlError(f"not well-formed XML: {exc}") from exc
    if root.tag.lower() != "opml" or root.find("body") is None:
        raise OpmlError(f"not OPML: root element <{root.tag}> without <body>")
    result = OpmlImport()
    seen_urls: set[str] = set()
    _walk(root.find("body"), [], result, seen_urls, interval_s)  # type: ignore[arg-type]
    return result


def _walk(
    parent: ET.Element,
    path: list[str],
    result: OpmlImport,
    seen_urls: set[str],
    interval_s: float,
) -> None:
    for outline in parent.findall("outline"):
        title = (outline.get("title") or outline.get("text") or "").strip()
        url = (outline.get("xmlUrl") or outline.get("xmlurl") or "").strip() or None
        children = outline.findall("outline")
        if url is None:
            if children:
                _walk(outline, [*path, title or "untitled"], result, seen_urls, interval_s)
            else:
                kind = outline.get("type", "")
                why = f"no xmlUrl (type {kind!r})" if kind else "no xmlUrl"
                result.skipped.append(Skipped(title, outline.get("htmlUrl"), why))
            continue
        skipped = _source(outline, title, url, path, seen_urls, interval_s, result)
        if skipped is not None:
            result.skipped.append(skipped)
        if children:  # a feed with outlines under it: unusual, but keep them
            _walk(outline, [*path, title or "untitled"], result, seen_urls, interval_s)


def _source(
    outline: ET.Element,
    title: str,
    url: str,
    path: list[str],
    seen_urls: set[str],
    interval_s: float,
    result: OpmlImport,
) -> Skipped | None:
    if not url.startswith(("http://", "https://")):
        return Skipped(title, url, "not an http(s) URL")
    if url in seen_urls:
        return Skipped(title, url, "duplicate of an earlier outline")
    declared = (outline.get(f"{_NEWSFLOW}Kind") or outline.get("type") or "rss").lower()
    kind = KINDS.get(declared, declared if outline.get(f"{_NEWSFLOW}Kind") else "")
    if not kind:
        return Skipped(title, url, f"unsupported type {declared!r}")
    options = {"category": "/".join(path)} if path else {}
    try:
        interval = float(outline.get(f"{_NEWSFLOW}Interval") or interval_s)
        source = FeedSource(
            id=outline.get(f"{_NEWSFLOW}Id") or source_id(title or url, url),
            kind=kind,
            url=url,
            name=title,
            interval_s=interval,
            options=options,
        )
    except (ValueError, ValidationError) as exc:
        return Skipped(title, url, f"invalid: {str(exc).splitlines()[0]}")
    seen_urls.add(url)
    result.sources.append(source)
    return None


def to_opml(sources: Iterable[FeedSource], title: str = "newsflow feeds") -> bytes:
    """An OPML 2.0 document with one outline per source, grouped by ``category``."""
    opml = ET.Element("opml", version="2.0")
    head = ET.SubElement(opml, "head")
    ET.SubElement(head, "title").text = title
    body = ET.SubElement(opml, "body")
    folders: dict[str, ET.Element] = {}
    for source in sorted(sources, key=lambda s: (str(s.options.get("category", "")), s.id)):
        parent = body
        category = str(source.options.get("category", ""))
        for depth, part in enumerate(filter(None, category.split("/"))):
            key = "/".join(category.split("/")[: depth + 1])
            if key not in folders:
                folders[key] = ET.SubElement(parent, "outline", text=part, title=part)
            parent = folders[key]
        ET.SubElement(
            parent,
            "outline",
            {
                "type": source.kind if source.kind in KINDS else "rss",
                "text": source.name or source.id,
                "title": source.name or source.id,
                "xmlUrl": source.url,
                f"{_NEWSFLOW}Id": source.id,
                f"{_NEWSFLOW}Kind": source.kind,
                f"{_NEWSFLOW}Interval": f"{source.interval_s:g}",
            },
        )
    ET.indent(opml)
    return ET.tostring(opml, encoding="utf-8", xml_declaration=True)
