"""The cleaner's pure core: one fetched page in, one clean article out.

``clean`` is what the cleaner service and ``newsflow extract`` both call. It
is a top-level, pure, picklable function so the service can run it in a
process pool and enforce a wall-clock cap per page from outside (a C or Rust
parser cannot be interrupted from inside the process). Inside, every step is
bounded so the outside cap is a last resort: the input is capped
(``max_bytes``), nesting that makes parsers superlinear is detected before
they run, JSON-LD is size- and node-bounded, and no regex backtracks on
unbounded input.

How the main text is found (each step measured on the ScrapingHub benchmark,
see ``bench/extraction``):

1. the page is parsed once with lexbor (selectolax) and its metadata read
   (JSON-LD, OpenGraph, meta tags, <time>, the URL; htmldate last);
2. elements that never hold article text (scripts, navigation, header,
   footer, asides and their ARIA landmarks) are removed;
3. fast path: if one ``articleBody``, ``<article>`` or ``<main>`` element
   holds nearly all the paragraph text, only that element is extracted from;
4. rs-trafilatura (a Rust port of trafilatura) extracts the text; off the
   fast path, a second, independent extractor (resiliparse) is asked for its
   opinion: when the two disagree badly, rs-trafilatura has usually taken a
   whole container of teasers, and trafilatura in precision mode decides;
5. site-independent filters drop teaser links, page furniture (the text-dump
   vocabulary) and a trailing "related stories" block.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from importlib.metadata import PackageNotFoundError, version

import rs_trafilatura
import trafilatura
from resiliparse.extract.html2text import extract_plain_text
from selectolax.lexbor import LexborHTMLParser, LexborNode

from services.cleaner import textdump
from services.cleaner.metadata import (
    PageMetadata,
    date_from_markup,
    detect_language,
    extract_metadata,
    guessed_authors,
    plausible_date,
)
from shared import codec
from shared.exceptions import PoisonMessage
from shared.models import CleanArticle, RawArticle
from shared.text import join_paragraphs, normalise, word_count
from shared.urls import article_id, canonical_url

__all__ = ["DEFAULT_MAX_BYTES", "EXTRACTOR_VERSION", "MAX_DEPTH", "clean", "clean_message"]

# Our own part of ``extractor_version``; bump when clean()'s output changes.
EXTRACTOR_VERSION = "1.0"
# Real article pages are under 1.5 MB (the largest in the ScrapingHub set is
# 1.49 MB); past 4 MiB a page is a dump or an attack, and the head holds the
# article anyway. Bounding the input also bounds the time spent on it.
DEFAULT_MAX_BYTES = 4 * 1024 * 1024
# Real pages nest under ~100 elements; lexbor and html5ever slow down
# quadratically on thousands of levels (rs-trafilatura needs 19 s for 5,000
# nested tables), so deeper documents skip the extractors.
MAX_DEPTH = 256
# A regex estimate of nesting above this means even parsing would be slow
# (lexbor takes 0.07 s for 10,000 levels, 0.45 s for 20,000, 3.3 s for 40,000).
_MAX_ESTIMATED_DEPTH = 5_000
# Nesting is bounded by the number of tags, so smaller pages skip the estimate
# (real article pages have 100-4,000 tags).
_TAGS_WORTH_ESTIMATING = _MAX_ESTIMATED_DEPTH
# Elements that never hold article text, removed before the extractors run
# (after the metadata is read): code and form controls, then the head and the
# HTML5 landmarks of site chrome. rs-trafilatura drops these itself, but not
# having to parse them makes it ~45 % faster; <header> (site banner, or the
# article's headline, byline and date, which are metadata, not body) also
# raises its precision on the benchmark (0.931 -> 0.935).
_CODE = [
    "script", "style", "noscript", "svg", "template", "iframe", "link", "button", "select",
    "textarea",
]  # fmt: skip
_CHROME = ["head", "meta", "nav", "aside", "footer", "header"]
_LANDMARKS = '[role="navigation"], [role="banner"], [role="complementary"], [role="contentinfo"]'
# Below this shingle agreement with resiliparse, rs-trafilatura's text is
# mostly material the other extractor left out (teaser lists, whole columns).
_MIN_AGREEMENT = 0.5
# Control characters above this share of a sample mean a binary body.
_MAX_CONTROL_SHARE = 0.01
# U+FFFD above this share means the body was decoded with the wrong charset
# beyond repair.
_MAX_REPLACEMENT_SHARE = 0.10
# The guards look at the head of the body only: a binary or mis-decoded body
# shows it from the start, and encoding a sample to UTF-8 costs ~3 µs per KB.
_SAMPLE_CHARS = 16_384

_DEEP_SELECTOR = " > ".join(["*"] * MAX_DEPTH)
_WORD = re.compile(r"\w+")
_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9]*)")
# Elements that never nest (void) or are closed implicitly by a sibling; a
# naive open/close count would overestimate their depth.
_NON_NESTING = frozenset(
    [
        "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr", "param", "keygen", "p", "li", "td", "tr", "th", "option", "dt", "dd",
        "tbody", "thead", "tfoot", "html", "head", "body", "script", "style",
    ]
)  # fmt: skip
_MARKUP = re.compile(
    r"<(?:!doctype|html|head|body|p|div|br|article|span|a|h[1-6]|title|meta|table|section)\b",
    re.I,
)
# A tag, or a tag opener whose ">" never comes (up to the next "<").
_ANY_TAG = re.compile(r"<[^<>]*>|<[a-zA-Z/!][^<>]*")
_NON_SPACE = re.compile(r"\S")
# C0 controls other than tab, LF, VT, FF, CR; in UTF-8 these bytes never occur
# inside a multi-byte character.
_CONTROL_BYTES = bytes([*range(0x00, 0x09), *range(0x0E, 0x20)])
_REPLACEMENT_BYTES = "\ufffd".encode()
# "Ã", "â€", "Â" (UTF-8 of text that was UTF-8 already, read as cp1252).
_MOJIBAKE_BYTES = ("Ã".encode(), "â€".encode(), "Â".encode())
# Fewer markers than this are real words ("SÃO PAULO"), not a wrong charset.
_MIN_MOJIBAKE_MARKERS = 3
# A UTF-8 lead byte read as cp1252 (Â-ô), then continuation bytes read as
# cp1252: C1-range letters and the punctuation cp1252 puts at 0x80-0x9F.
_CP1252_HIGH = (
    "\x80-\xbf\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192\u02c6\u02dc\u2013\u2014"
    "\u2018-\u201a\u201c-\u201e\u2020-\u2022\u2026\u2030\u2039\u203a\u20ac\u2122"
)
_MOJIBAKE_RUN = re.compile(f"(?:[\xc2-\xf4][{_CP1252_HIGH}]+)+")
# Elements whose text is one paragraph, and how much of a block's text is
# enough to find it again in a joined text.
_BLOCKS = "p, li, h1, h2, h3, h4, h5, h6, blockquote, pre, dd, dt, figcaption"
_BLOCK_KEY = 12
# A paragraph that is a single link of this many words is a teaser headline.
_TEASER_WORDS = 4
# Scripts written without spaces between words: their text is compared
# character by character, or a whole sentence would be one "word".
_UNSPACED = re.compile("[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u0e00-\u0e7f]")
_UNSPACED_TOKEN = re.compile(
    "[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u0e00-\u0e7f]"
    "|[^\\s\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u0e00-\u0e7f]+"
)
# Elements that declare the article, most specific first; the first kind
# present on the page is the only one tried.
_ARTICLE_SELECTORS = ('[itemprop="articleBody"]', "article", 'main, [role="main"]')
# The declared article element is trusted alone when it holds this share of
# the page's paragraph text (teaser cards are <article>s too, but small ones).
_ARTICLE_SHARE = 0.8
# Content types that are never an article page.
_NOT_PAGES = (
    "image/", "audio/", "video/", "font/", "application/pdf", "application/zip",
    "application/octet-stream", "application/json", "application/rss", "application/atom",
    "application/xml", "text/xml", "text/css", "application/javascript", "text/javascript",
)  # fmt: skip
# Bodies of these types are text dumps, whatever ``body_kind`` says.
_TEXT_TYPES = ("text/plain", "text/markdown")
# A line that opens an end-of-article block of teasers or tags; only trusted
# in the second half of the text, where it cannot cut the article short.
_TAIL_MARKER = re.compile(
    r"^\W*(?:related(?: articles?| stories| posts| tags| news| coverage| content)?"
    r"|you (?:may|might) (?:also )?(?:like|enjoy)|read more|more from .{1,40}|more stories"
    r"|recommended(?: for you| stories)?|most (?:popular|read|viewed)|trending(?: now)?"
    r"|see also|also read|read next|share this(?: article| story)?|tags)\W*$",
    re.I,
)


def _package_version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "unknown"


# Recorded on every article as "<ours>/<engine's>", read once at import.
_ENGINE_VERSIONS: dict[str, str] = {
    "rs-trafilatura": _package_version("rs-trafilatura"),
    "trafilatura": _package_version("trafilatura"),
    "lexbor": _package_version("selectolax"),
    "json-ld": "",
}


@dataclass(frozen=True)
class _Body:
    """A page body that passed the input guards, and what the guards noticed."""

    text: str
    flags: tuple[str, ...]


@dataclass(frozen=True)
class _MainText:
    paragraphs: list[str]
    engine: str
    byline: str | None = None  # the engine's guess at the author, if any


def clean(raw: RawArticle, *, max_bytes: int = DEFAULT_MAX_BYTES) -> CleanArticle:
    """Reduce one fetched page to a clean article.

    Promises: returns a ``CleanArticle`` whose ``text`` is normalised (see
    ``shared.text.normalise``), non-empty, one paragraph per block separated
    by blank lines; or raises ``PoisonMessage`` with a reason: ``empty-page``,
    ``binary-body``, ``not-html`` (a non-page content type), ``no-text``,
    ``malformed-html`` or ``extractor-error`` (a library failed on the page).
    Never another exception, whatever the body. Quality notes go to
    ``flags``: ``truncated-input`` (body above ``max_bytes`` UTF-8 bytes),
    ``deep-nesting``, ``charset-repaired``, ``replacement-characters``,
    ``not-html-as-text``. Time is roughly linear in the capped input; the
    caller still enforces a wall-clock cap (see the module docstring).
    """
    body = _guard_body(raw, max_bytes)
    try:
        return _clean_body(raw, body)
    except PoisonMessage:
        raise
    except RecursionError as exc:
        raise PoisonMessage("malformed-html", f"too deeply nested to extract: {exc}") from exc
    except Exception as exc:  # a library bug on one page must not stop the stream
        raise PoisonMessage("extractor-error", f"{type(exc).__name__}: {exc}") from exc


def clean_message(value: bytes | None) -> tuple[str, bytes]:
    """``clean`` from wire to wire: a ``RawArticle`` message in, ``(id, CleanArticle message)`` out.

    What the cleaner's extraction processes run, so only bytes cross the
    process boundary and the worker neither decodes nor encodes a page.
    Raises ``PoisonMessage`` for input the codec refuses (``invalid-message``,
    ``unsupported-schema``) and for every page ``clean`` refuses.
    """
    article = clean(codec.decode(RawArticle, value))
    return article.id, codec.encode(article)


def _clean_body(raw: RawArticle, body: _Body) -> CleanArticle:
    """Route a guarded body to the text-dump or the HTML path."""
    if raw.body_kind == "text" or raw.content_type.split(";")[0].strip() in _TEXT_TYPES:
        return textdump.clean_dump(raw, _scrub(body.text), flags=body.flags)
    if not _MARKUP.search(body.text[:_SAMPLE_CHARS]):
        return textdump.clean_dump(raw, _scrub(body.text), flags=(*body.flags, "not-html-as-text"))
    return _clean_html(raw, body)


# --- input guards ----------------------------------------------------------


def _guard_body(raw: RawArticle, max_bytes: int) -> _Body:
    """The body made safe to parse, or ``PoisonMessage`` if it is not a page."""
    content_type = raw.content_type.split(";")[0].strip().lower()
    if content_type.startswith(_NOT_PAGES):
        raise PoisonMessage("not-html", f"content type {content_type!r} is not a page")
    flags: list[str] = []
    text = raw.body
    # A str of n characters is at most 4n UTF-8 bytes: most bodies skip encoding.
    if len(text) > max_bytes // 4:
        encoded = text.encode("utf-8", "surrogatepass")
        if len(encoded) > max_bytes:
            text = encoded[:max_bytes].decode("utf-8", "ignore")
            flags.append("truncated-input")
    if not _NON_SPACE.search(text):
        raise PoisonMessage("empty-page", "the body is empty or only whitespace")
    # Checks run on the UTF-8 bytes of a sample: bytes.translate and
    # bytes.count scan at memory speed, a regex character class does not.
    sample = text[:_SAMPLE_CHARS].encode("utf-8", "surrogatepass")
    controls = len(sample) - len(sample.translate(None, _CONTROL_BYTES))
    if controls > _MAX_CONTROL_SHARE * len(sample):
        raise PoisonMessage("binary-body", "the body has the control characters of binary data")
    replacements = sample.count(_REPLACEMENT_BYTES)
    if replacements * len(_REPLACEMENT_BYTES) > _MAX_REPLACEMENT_SHARE * len(sample):
        raise PoisonMessage("binary-body", "the body is mostly undecodable (U+FFFD) characters")
    if sum(sample.count(marker) for marker in _MOJIBAKE_BYTES) >= _MIN_MOJIBAKE_MARKERS:
        text, repaired = _repair_mojibake(text)
    else:
        repaired = False
    if repaired:
        flags.append("charset-repaired")
    elif replacements:
        flags.append("replacement-characters")
    return _Body(text=text, flags=tuple(flags))


def _scrub(text: str) -> str:
    """``text`` without lone surrogates, which no UTF-8 consumer accepts.

    (The HTML path needs no scrubbing: lexbor drops them while parsing.)
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")
    return text


def _repair_mojibake(text: str) -> tuple[str, bool]:
    """Undo UTF-8 that was decoded as cp1252 (a wrong declared charset).

    Each run of characters that cp1252-encodes to valid UTF-8 is replaced by
    its decoding, so "cafÃ©" becomes "café" while real Latin-1 text, whose
    runs do not decode as UTF-8, is left alone.
    """
    repaired = _MOJIBAKE_RUN.sub(_decode_run, text)
    return repaired, repaired != text


def _decode_run(match: re.Match[str]) -> str:
    run = match.group()
    try:
        return run.encode("cp1252").decode("utf-8")
    except UnicodeError:
        return run


def _estimated_depth(html: str) -> int:
    """Upper-bound-ish nesting depth from tag counts, without building a DOM."""
    depth = deepest = 0
    for closing, tag in _TAG.findall(html):
        if tag.lower() in _NON_NESTING:
            continue
        depth = max(0, depth - 1) if closing else depth + 1
        deepest = max(deepest, depth)
    return deepest


# --- HTML ------------------------------------------------------------------


def _clean_html(raw: RawArticle, body: _Body) -> CleanArticle:
    flags = list(body.flags)
    html = body.text
    if html.count("<") > _TAGS_WORTH_ESTIMATING and _estimated_depth(html) > _MAX_ESTIMATED_DEPTH:
        # Even lexbor is superlinear here: keep only the text between the tags.
        # [^<>], not [^>]: an unclosed "<" must not make the scan quadratic.
        text = normalise(_ANY_TAG.sub("\n", _scrub(html)))
        return textdump.clean_dump(raw, text, flags=(*flags, "deep-nesting"))
    url = raw.final_url or raw.url
    tree = LexborHTMLParser(html)
    meta = extract_metadata(tree, url)
    if tree.css_first(_DEEP_SELECTOR) is not None:
        flags.append("deep-nesting")
        main = _MainText(_plain_paragraphs(tree), "lexbor")
    else:
        tree.strip_tags(_CODE)
        if meta.published_at is None and raw.feed_published_at is None:
            # htmldate parses the page again: give it the page without its code.
            found = date_from_markup(tree.html or "", url, raw.fetched_at)
            meta = replace(meta, published_at=found)
        _strip_chrome(tree)
        article = _article_subtree(tree)
        # Inside the declared article element there is no teaser column for
        # rs-trafilatura to take, so the second opinion is not needed there.
        main = _main_text(article or tree.html or "", url, check=article is None)
    if not meta.authors:
        meta = replace(meta, authors=guessed_authors(main.byline))
    paragraphs = _drop_title(main.paragraphs, meta.title or raw.feed_title)
    if not paragraphs and meta.article_body:
        paragraphs, main = _lines(meta.article_body), _MainText([], "json-ld")
    text = join_paragraphs(paragraphs)
    if not text:
        raise PoisonMessage("no-text", "no article text found on the page")
    return _article(raw, meta, text, main.engine, flags)


def _article(
    raw: RawArticle, meta: PageMetadata, text: str, engine: str, flags: list[str]
) -> CleanArticle:
    published = plausible_date(meta.published_at, raw.fetched_at) or raw.feed_published_at
    # The id follows the page's own canonical link when it gives one, so a
    # republication that points at its original is recognised by URL.
    identity = canonical_url(raw.final_url or raw.url, declared=meta.canonical_url)
    return CleanArticle(
        id=article_id(identity),
        source_id=raw.source_id,
        url=raw.url,
        canonical_url=meta.canonical_url or raw.final_url or raw.url,
        fetched_at=raw.fetched_at,
        title=meta.title or raw.feed_title or "",
        text=text,
        authors=meta.authors,
        published_at=published,
        modified_at=plausible_date(meta.modified_at, raw.fetched_at),
        language=detect_language(text, declared=meta.language),
        site_name=meta.site_name,
        description=meta.description,
        image=meta.image,
        section=meta.section,
        tags=meta.tags,
        word_count=word_count(text),
        extractor=f"newsflow+{engine}",
        extractor_version=f"{EXTRACTOR_VERSION}/{_ENGINE_VERSIONS.get(engine, '')}".rstrip("/"),
        flags=flags,
    )


def _strip_chrome(tree: LexborHTMLParser) -> None:
    """Remove the head and the landmarks of site chrome (see ``_CHROME``)."""
    tree.strip_tags(_CHROME)
    for node in tree.css(_LANDMARKS):
        node.decompose()


def _article_subtree(tree: LexborHTMLParser) -> str | None:
    """The page's declared article element as a document of its own, if it holds the text.

    Fast path: when one ``[itemprop=articleBody]``, ``<article>`` or (failing
    those) ``<main>`` element holds nearly all the paragraph text of the page,
    the extractors only need that element. They run faster, and teasers
    around it cannot leak in.
    """
    body = tree.body
    candidates = next(filter(None, (tree.css(s) for s in _ARTICLE_SELECTORS)), None)
    if body is None or not candidates:
        return None
    best = max(candidates, key=_paragraph_chars)
    total = _paragraph_chars(body)
    if not total or _paragraph_chars(best) < _ARTICLE_SHARE * total:
        return None
    return f"<html><body>{best.html}</body></html>"


def _paragraph_chars(node: LexborNode) -> int:
    return sum(len(p.text(deep=True)) for p in node.css("p"))


def _main_text(html: str, url: str, *, check: bool = True) -> _MainText:
    """The article's paragraphs, from the engine the agreement check trusts.

    With ``check`` false, rs-trafilatura's text is taken without a second opinion.
    """
    result = rs_trafilatura.extract(html, url=url, include_comments=False, page_type="article")
    rs_text = (result.main_content or "").strip()  # normalised once, line by line, below
    anchors = _anchor_texts(result.content_html or "") if rs_text else set()
    byline = result.author
    if rs_text and (not check or _agreement(rs_text, _second_opinion(html)) >= _MIN_AGREEMENT):
        engine, text = "rs-trafilatura", rs_text
    elif fallback := _trafilatura_text(html, url):
        engine, text, anchors = "trafilatura", fallback, set()
    else:
        engine, text = "rs-trafilatura", rs_text
    paragraphs = _resplit(_lines(text), html)
    return _MainText(_filter_paragraphs(paragraphs, anchors), engine, byline)


def _second_opinion(html: str) -> str:
    """resiliparse's main text; only compared with, never emitted."""
    return extract_plain_text(html, main_content=True, alt_texts=False, preserve_formatting=False)


def _trafilatura_text(html: str, url: str) -> str:
    """trafilatura's precision-mode text; empty if it finds none or fails.

    A failure here must not lose the page: the caller still has rs-trafilatura's text.
    """
    try:
        text = trafilatura.extract(
            html, url=url, include_comments=False, favor_precision=True, with_metadata=False
        )
    except Exception:  # any lxml or trafilatura failure means "no opinion"
        return ""
    return text or ""


def _agreement(text: str, other: str) -> float:
    """Share of ``text``'s 4-word shingles that ``other`` also contains.

    Words are whitespace-separated (not \\w+ runs: 3x faster, and the same on
    both sides), or single characters for scripts written without spaces.

    Exact below ``_MIN_AGREEMENT``; above it the count may stop early (the
    caller only compares with the threshold).
    """
    # One tokenizer for both sides, chosen by the text under test.
    tokens = _UNSPACED_TOKEN.findall if _UNSPACED.search(text, 0, 2_000) else str.split
    mine = _shingles(tokens(text))
    if not mine:
        return 0.0
    enough = _MIN_AGREEMENT * len(mine)
    found: set[tuple[str, ...]] = set()
    words = tokens(other)
    for shingle in zip(words, words[1:], words[2:], words[3:], strict=False):
        if shingle in mine:
            found.add(shingle)
            if len(found) >= enough:
                break
    return len(found) / len(mine)


def _shingles(words: list[str]) -> set[tuple[str, ...]]:
    if len(words) < 4:
        return {tuple(words)} if words else set()
    return set(zip(words, words[1:], words[2:], words[3:], strict=False))


def _anchor_texts(content_html: str) -> set[str]:
    """The word sequences of every link in the extracted HTML."""
    tree = LexborHTMLParser(content_html)
    return {key for a in tree.css("a") if (key := _key(a.text(deep=True)))}


def _key(text: str) -> str:
    return " ".join(_WORD.findall(text))


def _filter_paragraphs(paragraphs: list[str], anchors: set[str]) -> list[str]:
    """Drop teaser links and page furniture, and cut a trailing "related" block.

    A paragraph that is one whole link of several words is a teaser headline
    (one- to three-word links are names, places or bare URLs in a list, so
    they stay).
    Furniture is what ``textdump.is_boilerplate`` recognises in text dumps.
    """
    kept: list[str] = []
    for index, paragraph in enumerate(paragraphs):
        if index >= len(paragraphs) / 2 and _TAIL_MARKER.match(paragraph):
            break
        key = _key(paragraph)
        if not key or (key in anchors and len(paragraph.split()) >= _TEASER_WORDS):
            continue
        if textdump.is_boilerplate(paragraph):
            continue
        kept.append(paragraph)
    return kept


def _lines(text: str) -> list[str]:
    """The non-empty lines of ``text``, normalised: each is a block of the page.

    (trafilatura puts one newline between paragraphs, rs-trafilatura a blank
    line, JSON-LD bodies either.)
    """
    return [line for line in normalise(text).split("\n") if line]


def _resplit(paragraphs: list[str], html: str) -> list[str]:
    """Restore the paragraph breaks of a text an engine returned as one block.

    rs-trafilatura's fallback for small documents joins the page's blocks
    with no separator ("…on Monday.Turnout was…"). Where the joined text is
    the source's block texts one after another, it is cut back at their
    boundaries; text that does not line up with the source is left whole.
    """
    if len(paragraphs) != 1:
        return paragraphs
    blocks: dict[str, list[str]] = {}
    for node in LexborHTMLParser(html).css(_BLOCKS):
        text = " ".join(node.text(deep=True).split())
        if len(text) >= _BLOCK_KEY:
            blocks.setdefault(text[:_BLOCK_KEY], []).append(text)
    merged, pieces, at = paragraphs[0], [], 0
    while at < len(merged):
        candidates = blocks.get(merged[at : at + _BLOCK_KEY], [])
        # The longest block that fits: an outer block before the ones it nests.
        block = max((b for b in candidates if merged.startswith(b, at)), key=len, default=None)
        if block is None:
            pieces.append(merged[at:])
            break
        pieces.append(block)
        at += len(block)
        while at < len(merged) and merged[at].isspace():
            at += 1
    return [piece for piece in (p.strip() for p in pieces) if piece]


def _drop_title(paragraphs: list[str], title: str | None) -> list[str]:
    """Remove the headline where the extractor repeated it as the first paragraph."""
    if paragraphs and title and _key(paragraphs[0]).casefold() == _key(title).casefold():
        return paragraphs[1:]
    return paragraphs


def _plain_paragraphs(tree: LexborHTMLParser) -> list[str]:
    """Every text block of the body, for documents too deep for the extractors."""
    root = tree.body or tree.root
    text = root.text(deep=True, separator="\n") if root is not None else ""
    return _lines(text)
