"""Article metadata from a parsed page: JSON-LD, OpenGraph, meta tags, <time>, the URL.

Pure functions over a selectolax (lexbor) tree that the caller parsed once.
Every field has an ordered list of sources, most reliable first; the first
source that yields a usable value wins.
"""

from __future__ import annotations

import html
import json
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urljoin, urlsplit

import htmldate
import py3langid
from dateutil import parser as dateutil_parser
from dateutil.parser import UnknownTimezoneWarning
from selectolax.lexbor import LexborHTMLParser, LexborNode

__all__ = [
    "PageMetadata",
    "date_from_markup",
    "date_from_url",
    "detect_language",
    "extract_metadata",
    "guessed_authors",
    "parse_date",
    "plausible_date",
]

# schema.org types whose properties describe the article itself.
_ARTICLE_TYPES = frozenset(
    {
        "article",
        "newsarticle",
        "reportagenewsarticle",
        "analysisnewsarticle",
        "opinionnewsarticle",
        "reviewnewsarticle",
        "backgroundnewsarticle",
        "blogposting",
        "liveblogposting",
        "socialmediaposting",
        "techarticle",
        "scholarlyarticle",
        "report",
        "webpage",
        "itempage",
        "medicalwebpage",
        "review",
        "creativework",
    }
)
# A JSON-LD block larger than this is not metadata; parsing it is wasted time.
_MAX_JSONLD_CHARS = 500_000
# Walking more JSON-LD nodes than this means a pathological document.
_MAX_JSONLD_NODES = 5_000
# On the benchmark pages 300-400 characters give the same answer as 3,000;
# the identifier walks every byte in Python, so the sample is kept short.
_LANGUAGE_SAMPLE_CHARS = 400
# Below this the identifier guesses; the page's declaration is better.
_MIN_LANGUAGE_CHARS = 40
# Publishers' clocks and time zones disagree with ours by up to a day.
_CLOCK_SKEW = timedelta(days=1)
# A site name in a title decoration is at most this long ("The New York Times").
_MAX_SITE_WORDS = 4
# More tags than this are keyword spam, not tags.
_MAX_TAGS = 30
# A name read from page text (not from metadata) has at most this many words.
_MAX_GUESSED_NAME_WORDS = 4
# Author names longer than this are sentences, not names.
_MAX_AUTHOR_WORDS = 6

_AUTHOR_SPLIT = re.compile(r"\s*(?:,|;|\||&|\band\b|\bund\b|\bet\b|\by\b|\be\b)\s*", re.I)
_BY_PREFIX = re.compile(r"^\s*(?:by|von|par|por|di|door)[:\s]+", re.I)
# Separators between a headline and a site name: pipe, hyphen, en and em
# dash, colon, middle dot, bullet, guillemet.
_DECORATION = " |-\u2013\u2014:\u00b7\u2022\u00bb"
_TITLE_SEPARATOR = re.compile(rf"\s+[{re.escape(_DECORATION.strip())}]\s+")
_URL_DATE = re.compile(
    r"/((?:19|20)\d{2})[/_-]?(0[1-9]|1[0-2])[/_-]?(0[1-9]|[12]\d|3[01])(?:/|[_-]|\.html?|$)"
)
_URL_DATE_SLASHED = re.compile(r"/((?:19|20)\d{2})/(\d{1,2})/(\d{1,2})/")


@dataclass(frozen=True)
class PageMetadata:
    """What a page says about its article; every field may be missing."""

    title: str | None = None
    authors: list[str] = field(default_factory=list)
    published_at: datetime | None = None
    modified_at: datetime | None = None
    site_name: str | None = None
    canonical_url: str | None = None
    description: str | None = None
    image: str | None = None
    section: str | None = None
    tags: list[str] = field(default_factory=list)
    language: str | None = None
    article_body: str | None = None


def extract_metadata(tree: LexborHTMLParser, base_url: str) -> PageMetadata:
    """Collect the page's metadata; never raises on malformed markup or JSON-LD."""
    meta = _meta_index(tree)
    ld = _jsonld_article(tree)
    site_name = _first(
        meta.get("og:site_name"), _ld_name(ld.get("publisher")), meta.get("application-name")
    )
    return PageMetadata(
        title=_title(tree, meta, ld, site_name),
        authors=_authors(tree, meta, ld),
        published_at=_published(tree, meta, ld, base_url),
        modified_at=_first_date(
            ld.get("dateModified"),
            meta.get("article:modified_time"),
            meta.get("og:updated_time"),
            meta.get("itemprop:datemodified"),
            meta.get("last-modified"),
            meta.get("dcterms.modified"),
        ),
        site_name=site_name,
        canonical_url=_canonical(tree, meta, ld, base_url),
        description=_first(
            meta.get("og:description"),
            meta.get("description"),
            meta.get("twitter:description"),
            _ld_str(ld.get("description")),
        ),
        image=_absolute(
            _first(
                meta.get("og:image"),
                meta.get("og:image:url"),
                meta.get("twitter:image"),
                _ld_url(ld.get("image")),
                _link_href(tree, "image_src"),
            ),
            base_url,
        ),
        section=_first(
            meta.get("article:section"),
            _ld_str(ld.get("articleSection")),
            meta.get("section"),
            meta.get("parsely-section"),
        ),
        tags=_tags(meta, ld),
        language=_language(tree, meta),
        # Kept raw: its line breaks are the only paragraph breaks it has.
        article_body=body if isinstance(body := ld.get("articleBody"), str) else None,
    )


# --- sources ---------------------------------------------------------------


def _meta_index(tree: LexborHTMLParser) -> dict[str, str]:
    """Map lower-cased meta name/property/itemprop to its first non-empty content.

    ``article:tag`` may repeat, so all its values are joined with commas.
    """
    index: dict[str, str] = {}
    for node in tree.css("meta[content]"):
        attrs = node.attributes
        content = _clean(attrs.get("content"))
        if not content:
            continue
        for attr in ("property", "name", "itemprop", "http-equiv"):
            key = (attrs.get(attr) or "").strip().lower()
            if not key:
                continue
            if attr == "itemprop":
                key = f"itemprop:{key}"
            if key in ("article:tag", "og:article:tag") and key in index:
                index[key] += f",{content}"
            else:
                index.setdefault(key, content)
    return index


def _jsonld_article(tree: LexborHTMLParser) -> dict[str, Any]:
    """The first JSON-LD object of an article type, or ``{}``."""
    fallback: dict[str, Any] = {}
    for node in tree.css('script[type="application/ld+json"]'):
        raw = node.text(deep=True)
        if not raw or len(raw) > _MAX_JSONLD_CHARS:
            continue
        try:
            data = json.loads(raw, strict=False)
        except ValueError:
            continue
        for obj in _walk_jsonld(data):
            kinds = obj.get("@type")
            kinds = kinds if isinstance(kinds, list) else [kinds]
            names = {k.lower() for k in kinds if isinstance(k, str)}
            if names & (_ARTICLE_TYPES - {"webpage", "itempage", "creativework"}):
                return obj
            if names & _ARTICLE_TYPES and not fallback:
                fallback = obj
    return fallback


def _walk_jsonld(data: Any) -> Iterator[dict[str, Any]]:
    """Every dict in a JSON-LD document, breadth first, bounded in count."""
    queue = [data]
    seen = 0
    while queue and seen < _MAX_JSONLD_NODES:
        item = queue.pop(0)
        seen += 1
        if isinstance(item, list):
            queue.extend(item)
        elif isinstance(item, dict):
            yield item
            graph = item.get("@graph")
            if graph is not None:
                queue.append(graph)
            entity = item.get("mainEntity")
            if isinstance(entity, dict | list):
                queue.append(entity)


def _title(
    tree: LexborHTMLParser, meta: dict[str, str], ld: dict[str, Any], site_name: str | None
) -> str | None:
    candidates = (
        _ld_str(ld.get("headline")),
        meta.get("og:title"),
        meta.get("twitter:title"),
        _node_text(tree.css_first("h1")),
    )
    title = _first(*candidates)
    if title:
        return _strip_site_suffix(title, site_name, aggressive=False)
    page_title = _node_text(tree.css_first("title"))
    return _strip_site_suffix(page_title, site_name, aggressive=True) if page_title else None


def _strip_site_suffix(title: str, site_name: str | None, *, aggressive: bool) -> str:
    """Drop a " | Site" or "Site - " decoration from a title.

    The decoration is dropped when it names the site, or (``aggressive``, for
    the <title> element, which nearly always carries one) when it is short and
    follows a pipe, or follows another separator after a headline of three or
    more words (so "Brexit: the deal" keeps its colon part).
    """
    parts = _TITLE_SEPARATOR.split(title)
    if len(parts) < 2:
        return title
    site = (site_name or "").casefold()

    def names_site(part: str) -> bool:
        part = part.casefold()
        return bool(site) and (part in site or site in part)

    head = title[: title.rfind(parts[-1])]
    short_tail = len(parts[-1].split()) <= _MAX_SITE_WORDS
    piped = head.rstrip().endswith("|")
    if names_site(parts[-1]) or (
        aggressive and short_tail and (piped or len(" ".join(parts[:-1]).split()) >= 3)
    ):
        return head.rstrip(_DECORATION)
    if names_site(parts[0]):
        return title[len(parts[0]) :].lstrip(_DECORATION)
    return title


def _authors(tree: LexborHTMLParser, meta: dict[str, str], ld: dict[str, Any]) -> list[str]:
    sources: list[Any] = [
        ld.get("author"),
        meta.get("author"),
        meta.get("article:author"),
        meta.get("parsely-author"),
        meta.get("sailthru.author"),
        meta.get("byl"),
        meta.get("dc.creator"),
    ]
    sources += [_node_text(n) for n in tree.css('[rel="author"], [itemprop="author"]')[:5]]
    for source in sources:
        names = _author_names(source)
        if names:
            return names
    return []


def _author_names(value: Any) -> list[str]:
    """Person names from a JSON-LD author value or a byline string, deduplicated."""
    raw: list[str] = []
    items = value if isinstance(value, list) else [value]
    for item in items:
        if isinstance(item, dict):
            name = item.get("name")
            if isinstance(name, str):
                raw.append(name)
        elif isinstance(item, str) and not item.startswith(("http://", "https://")):
            raw.extend(_AUTHOR_SPLIT.split(_BY_PREFIX.sub("", item)))
    names: list[str] = []
    for name in raw:
        name = _clean(_BY_PREFIX.sub("", name or ""))
        if not name or "@" in name or "://" in name or any(c.isdigit() for c in name):
            continue
        if len(name.split()) > _MAX_AUTHOR_WORDS:
            continue
        if name.casefold() not in {n.casefold() for n in names}:
            names.append(name)
    return names


def guessed_authors(byline: str | None) -> list[str]:
    """Names from a byline an extractor guessed from the page text, strictly checked.

    Only names of two to four capitalised words are kept ("Ann Lee", "ANN
    LEE"): a guessed byline is often a user name, a label or a form field.
    """
    if not byline:
        return []
    return [
        name
        for name in _author_names(byline)
        if 2 <= len(words := name.split()) <= _MAX_GUESSED_NAME_WORDS
        and all(w[0].isupper() and w.replace(".", "").replace("-", "").isalpha() for w in words)
    ]


def _published(
    tree: LexborHTMLParser, meta: dict[str, str], ld: dict[str, Any], base_url: str
) -> datetime | None:
    structured = _first_date(
        ld.get("datePublished"),
        ld.get("dateCreated"),
        meta.get("article:published_time"),
        meta.get("og:published_time"),
        meta.get("itemprop:datepublished"),
        meta.get("datepublished"),
        meta.get("pubdate"),
        meta.get("publishdate"),
        meta.get("publish-date"),
        meta.get("parsely-pub-date"),
        meta.get("sailthru.date"),
        meta.get("article.published"),
        meta.get("dc.date.issued"),
        meta.get("dcterms.created"),
        meta.get("dc.date"),
        meta.get("date"),
    )
    if structured:
        return structured
    for selector in (
        'time[itemprop="datePublished"]',
        "time[pubdate]",
        "article time[datetime]",
        "time[datetime]",
    ):
        node = tree.css_first(selector)
        if node is not None:
            found = parse_date(node.attributes.get("datetime") or _node_text(node) or "")
            if found:
                return found
    return date_from_url(base_url)


def _canonical(
    tree: LexborHTMLParser, meta: dict[str, str], ld: dict[str, Any], base_url: str
) -> str | None:
    entity = ld.get("mainEntityOfPage")
    entity_id = entity.get("@id") if isinstance(entity, dict) else entity
    for candidate in (
        _link_href(tree, "canonical"),
        meta.get("og:url"),
        _ld_str(ld.get("url")),
        entity_id if isinstance(entity_id, str) else None,
    ):
        url = _absolute(candidate, base_url)
        if url:
            return url
    return None


def _tags(meta: dict[str, str], ld: dict[str, Any]) -> list[str]:
    keywords = ld.get("keywords")
    if isinstance(keywords, list):
        keywords = ",".join(k for k in keywords if isinstance(k, str))
    for source in (
        meta.get("article:tag"),
        keywords if isinstance(keywords, str) else None,
        meta.get("news_keywords"),
        meta.get("keywords"),
        meta.get("parsely-tags"),
    ):
        if source:
            tags: list[str] = []
            for part in source.split(","):
                tag = _clean(part)
                if tag and tag.casefold() not in {t.casefold() for t in tags}:
                    tags.append(tag)
            return tags[:_MAX_TAGS]
    return []


def _language(tree: LexborHTMLParser, meta: dict[str, str]) -> str | None:
    html_node = tree.css_first("html")
    declared = _first(
        html_node.attributes.get("lang") if html_node else None,
        meta.get("content-language"),
        meta.get("og:locale"),
    )
    if not declared:
        return None
    code = re.split(r"[-_]", declared.strip())[0].lower()
    return code if 2 <= len(code) <= 3 and code.isalpha() else None


def detect_language(text: str, declared: str | None = None) -> str | None:
    """ISO 639-1 code of the text's language, or ``declared`` when the text is too short.

    The page's own declaration is a fallback only: CMS templates often say
    "en" on every page of a site in another language.
    """
    sample = text[:_LANGUAGE_SAMPLE_CHARS]
    if len(sample) < _MIN_LANGUAGE_CHARS:
        return declared
    code, _score = py3langid.classify(sample)
    return str(code)


# --- values ----------------------------------------------------------------


def parse_date(value: Any) -> datetime | None:
    """A timezone-aware datetime from an ISO 8601 or common textual date, or None.

    A date without a zone is taken as UTC; years outside 1990-2100 are refused
    as typos or placeholders.
    """
    if not isinstance(value, str) or not (text := value.strip()) or len(text) > 64:
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        try:
            with warnings.catch_warnings():
                # "EST", "IST"…: ambiguous zone names are read as naive, then UTC.
                warnings.simplefilter("ignore", UnknownTimezoneWarning)
                parsed = dateutil_parser.parse(text, fuzzy=False)
        except (ValueError, OverflowError, TypeError):
            return None
    if not 1990 <= parsed.year <= 2100:
        return None
    # One zone for every stored date: comparisons and range queries stay simple.
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def plausible_date(when: datetime | None, fetched_at: datetime) -> datetime | None:
    """``when``, unless it lies after the fetch (a template placeholder or a typo).

    A day of slack allows for publishers' clocks and time zones.
    """
    if when is None or when > fetched_at + _CLOCK_SKEW:
        return None
    return when


def date_from_markup(html: str, url: str, fetched_at: datetime) -> datetime | None:
    """The publication date htmldate finds in the page's markup and visible text, or None.

    Slower than the structured sources (it parses the page again with lxml,
    ~2.5 ms), so it is the last resort; its quick mode only, because the
    extensive search costs ~15 ms a page.
    """
    try:
        found = htmldate.find_date(
            html, url=url, original_date=True, extensive_search=False,
            max_date=fetched_at.replace(tzinfo=None),
        )  # fmt: skip
    except Exception:  # htmldate and lxml fail in many ways on broken pages: "no date"
        return None
    return parse_date(found) if found else None


def date_from_url(url: str) -> datetime | None:
    """The publication day a URL path spells (``/2024/03/05/``, ``/20240305``), or None."""
    path = urlsplit(url).path
    match = _URL_DATE_SLASHED.search(path) or _URL_DATE.search(path)
    if not match:
        return None
    try:
        return datetime(int(match[1]), int(match[2]), int(match[3]), tzinfo=UTC)
    except ValueError:
        return None


def _first_date(*values: Any) -> datetime | None:
    for value in values:
        parsed = parse_date(value)
        if parsed:
            return parsed
    return None


def _first(*values: str | None) -> str | None:
    for value in values:
        cleaned = _clean(value)
        if cleaned:
            return cleaned
    return None


def _clean(value: str | None) -> str | None:
    if not value:
        return None
    # Metadata is single-line text; entities are common in attribute values.
    cleaned = " ".join(html.unescape(value).split())
    return cleaned or None


def _ld_str(value: Any) -> str | None:
    if isinstance(value, list):
        value = next((v for v in value if isinstance(v, str)), None)
    return _clean(value) if isinstance(value, str) else None


def _ld_name(value: Any) -> str | None:
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, dict):
        return _ld_str(value.get("name"))
    return _ld_str(value)


def _ld_url(value: Any) -> str | None:
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, dict):
        return _ld_str(value.get("url") or value.get("contentUrl"))
    return _ld_str(value)


def _link_href(tree: LexborHTMLParser, rel: str) -> str | None:
    node = tree.css_first(f'link[rel="{rel}"][href]')
    return node.attributes.get("href") if node is not None else None


def _absolute(url: str | None, base_url: str) -> str | None:
    """``url`` resolved against the page; only http(s) URLs are returned."""
    if not url:
        return None
    try:
        resolved = urljoin(base_url, url.strip())
    except ValueError:
        return None
    return resolved if resolved.startswith(("http://", "https://")) else None


def _node_text(node: LexborNode | None) -> str | None:
    return _clean(node.text(deep=True, separator=" ")) if node is not None else None
