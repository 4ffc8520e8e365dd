"""Cleaning of pages that arrive as text: what a scraper saw, chrome and all.

A dump is one paragraph per line: some site chrome (logo, navigation, share
buttons), a title (often twice), a source line with a relative date
("Forbes6 days ago"), the article, then calls to action, a comment widget and
"Related Articles" with teasers of other stories. ``clean_text`` keeps the
article's paragraphs whole and in order and turns the header lines into
fields; ``clean_dump`` wraps that into a ``CleanArticle``.

The rules are site-independent: line vocabularies and shapes, not selectors.
"""

# Bullets, dashes and typographic quotes are what these rules match.
# ruff: noqa: RUF001

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from dateutil.relativedelta import relativedelta

from services.cleaner.metadata import detect_language, parse_date, plausible_date
from shared.exceptions import PoisonMessage
from shared.models import CleanArticle, RawArticle
from shared.text import join_paragraphs, normalise, word_count

__all__ = ["DumpResult", "clean_dump", "clean_text", "is_boilerplate"]

# Our own version of the dump rules; bump when clean_text's output changes.
TEXTDUMP_VERSION = "1.0"

# A line with at least this many words is prose, whatever its punctuation.
_PROSE_WORDS = 12
# A line ending in sentence punctuation is prose from this many words on.
_SENTENCE_WORDS = 4
# Titles are rarely longer than this.
_MAX_TITLE_WORDS = 30
# Chrome boxes (newsletter, cookie notice) are short; longer text is article.
_MAX_BOX_WORDS = 60
# Inline teasers ("Read more: …") are one headline long.
_MAX_TEASER_WORDS = 25
# A date line ("Updated at 1:23 p.m.", "20 Nov, 2019 05:47") is this short.
_MAX_DATE_LINE_WORDS = 8
# Share text glued to a paragraph sits at its start, after a few topic tags.
_MAX_GLUE_PREFIX = 200

# A reference time for classifying lines, where the resolved date is unused.
_ANY_TIME = datetime(2000, 1, 1, tzinfo=UTC)

_WORD = re.compile(r"\w+")
_SENTENCE_END = re.compile(r"[.!?…]['\"”’»)\]]*$")
# List bullets and separators a scraper leaves at a line's start ("• CNN").
_BULLET = re.compile(r"^(?:[•·▪◦*|>›»\-–—]\s+)+|^[•·▪◦]+")


def _full(pattern: str) -> re.Pattern[str]:
    """A case-insensitive pattern that must match a whole (bullet-stripped) line."""
    return re.compile(rf"^(?:{pattern})[\s.:!…]*$", re.I)


# Lines that are never article text: navigation, buttons, widgets, badges.
_CHROME = _full(
    r"logo|menu|main menu|navigation|search|home|close|open|toggle navigation"
    r"|skip to(?: main)? content|skip navigation|advertisements?|ad|ads"
    r"|sponsored(?: content)?|promoted|paid content|share|shares"
    r"|share (?:this|the)(?: article| story| page| post)?|share on \w+|tweet|copy link"
    r"|link copied|save|saved|bookmark|print|email|e-mail|subscribe(?: now| today)?|sign in"
    r"|log ?in|sign up|register|my account|account|follow|follow us(?: on .{1,30})?"
    r"|newsletters?|listen(?: to (?:this )?(?:article|story))?|\d+ min(?:ute)?s? read"
    r"|read time:? .{1,15}|(?:show|load|view|see) (?:more|all)|back to top|scroll to top|top"
    r"|next|previous|prev|continue reading|open in app|download the app|get the app"
    r"|app store|google play|download on the app store|get it on google play"
    r"|(?:app[ -]?store|play[ -]?store|google[ -]?play)+"
    r"|accept(?: all)?(?: cookies)?|reject(?: all)?|manage (?:preferences|cookies|settings)"
    r"|cookie (?:settings|preferences|policy)|i agree|agree|got it|ok|okay|dismiss"
    r"|(?:story|article) continues below(?: advertisement)?"
    r"|(?:\w+ ){0,2}(?:image|photo|picture|icon|logo|background|banner|avatar|thumbnail"
    r"|placeholder)"
    r"|facebook|twitter|x|linkedin|whatsapp|pinterest|reddit|telegram|messenger|flipboard"
    r"|instagram|youtube|tiktok|rss"
    r"|(?:facebook|twitter|linkedin|whatsapp|email|print|link|share|tweet|x)"
    r"(?:\s*(?:facebook|twitter|linkedin|whatsapp|email|print|link|share|tweet|x))+"
    # German and French navigation words.
    r"|startseite|anzeige|werbung|teilen|drucken|anmelden|abonnieren|accueil|publicité|partager"
)
# Short calls to action: "Try our AI features", "Get started now: download the app".
_CALL_TO_ACTION = re.compile(
    r"^(?:try|get|download|join|start|unlock|upgrade|install|discover|explore) (?:our|the|now|free"
    r"|started|unlimited|premium|what)\b",
    re.I,
)
# Lines that open the block after the article (teasers, comments, app ads).
_TERMINATOR = _full(
    r"related(?: articles?| stories| news| content| posts| coverage| reading| topics)?"
    r"|more (?:from|on|in|about) .{1,40}|more (?:stories|news|articles|headlines)"
    r"|you (?:may|might) (?:also )?(?:like|enjoy|be interested in)"
    r"|recommended(?: for you| reading| stories)?|read next|what to read next|up next"
    r"|most (?:read|popular|viewed|shared)|trending(?: now| stories)?"
    r"|latest(?: news| stories| headlines)?|top stories|popular (?:now|today)|editor'?s picks"
    r"|comments?(?: \(\d+\))?|\d+ comments?|no comments yet|be the first to comment"
    r"|leave a (?:comment|reply)|add a comment|join the (?:conversation|discussion)"
    r"|(?:show|view|load) comments|download the app|get the app|about the author"
    # German and French.
    r"|mehr zum thema|das könnte sie auch interessieren|weitere artikel|kommentare"
    r"|à lire aussi|sur le même sujet|commentaires"
)
# Whole-line teasers inside the article: "Read more: Another headline".
_INLINE_TEASER = re.compile(
    r"^(?:read more|read also|also read|related|see also|watch|listen|more|recommended|"
    r"click here)\s*[:|»›]", re.I,
)  # fmt: skip
_COOKIE = re.compile(r"\bcookies?\b", re.I)
_COOKIE_CONTEXT = re.compile(
    r"\b(?:we use|this (?:site|website) uses|accept|consent|privacy|cookie (?:policy|settings))\b",
    re.I,
)
_NEWSLETTER = re.compile(
    r"\bnewsletters?\b|\binbox\b|^(?:enter )?your e-?mail(?: address)?\b"
    r"|\bby (?:signing up|subscribing|clicking)\b|\bterms of (?:use|service)\b"
    r"|\bprivacy (?:policy|notice)\b|\bunsubscribe\b",
    re.I,
)
# Words one of which every _NEWSLETTER match contains.
_NEWSLETTER_GATE = ("newsletter", "inbox", "mail", "by signing", "by subscribing", "by clicking",
                    "terms of", "privacy", "unsubscribe")  # fmt: skip
_CAPTION = re.compile(
    r"(?:^|[\s(\[|])(?:photo|photograph|image|picture|illustration|video|credit|graphic)s?"
    r"(?: credit)?(?: by)?\s*[:©]|\((?:[^()]*/)?(?:getty images|ap photo|ap|afp|reuters|epa|"
    r"shutterstock|pa)[^()]*\)$|getty images$|^©",
    re.I,
)
_BYLINE = re.compile(r"^(?:by|words by|written by|reporting by)\s+(?P<names>.+)$", re.I)
_NAME = re.compile(r"^[A-Z][\w'’.-]*(?: [A-Z][\w'’.-]*| (?:de|da|van|von|der|bin|al|la|le)){0,4}$")
_DATE_PREFIX = re.compile(
    r"^(?P<kind>published|updated|last updated|posted|first published|modified)?"
    r"(?: on| at)?\s*:?\s*",
    re.I,
)
_MONTH = re.compile(
    r"\b(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\b|\b\d{4}-\d{2}-\d{2}\b",
    re.I,
)
_ICON_PREFIX = re.compile(r"^(?:time|clock|calendar|date)(?=\d)", re.I)
_KIND = r"(?:(?P<kind>published|updated|posted)\s*:?\s*)?"
# "Forbes6 days ago", "Site · 2 hours ago", "Updated 5h ago": the publisher may
# be glued to the number, as scrapers join an icon's label to the next text.
_RELATIVE = re.compile(
    rf"^(?P<site>.*?)\s*[•·|,–-]?\s*{_KIND}(?P<n>\d+|an?|one)\s*(?P<unit>seconds?|secs?|minutes?"
    r"|mins?|m|hours?|hrs?|h|days?|d|weeks?|wks?|w|months?|mos?|years?|yrs?|y)\s+ago$",
    re.I,
)
# "Yesterday", "Site • Today": a publisher needs a separator here, or a
# headline ending in "today" would be read as a date line.
_RELATIVE_WORD = re.compile(
    rf"^(?:(?P<site>.*?)\s*[•·|,–-]\s*)?{_KIND}(?P<word>just now|yesterday|today)$", re.I
)
# German: "vor 3 Stunden", "vor einem Tag".
_RELATIVE_DE = re.compile(
    r"^(?P<site>.*?)\s*[•·|,–-]?\s*vor\s+(?P<n>\d+|einer?|einem)\s+(?P<unit>sekunden?|minuten?"
    r"|stunden?|tag(?:en)?|wochen?|monat(?:en)?|jahr(?:en)?)$",
    re.I,
)
_UNITS: dict[str, str] = {
    "s": "seconds", "sec": "seconds", "second": "seconds", "m": "minutes", "min": "minutes",
    "minute": "minutes", "h": "hours", "hr": "hours", "hour": "hours", "d": "days", "day": "days",
    "w": "weeks", "wk": "weeks", "week": "weeks", "mo": "months", "month": "months",
    "y": "years", "yr": "years", "year": "years",
    "sekunde": "seconds", "sekunden": "seconds", "minuten": "minutes",
    "stunde": "hours", "stunden": "hours", "tag": "days", "tagen": "days", "woche": "weeks",
    "wochen": "weeks", "monat": "months", "monaten": "months", "jahr": "years", "jahren": "years",
}  # fmt: skip
_BREADCRUMB = re.compile(r"\s+[›>»/]\s+")
_PART_SEPARATOR = re.compile(r"\s+[|•·]\s+")
_SHARE_WORD = (
    r"(?:Facebook|Tweet|Twitter|Link|Copy link|Email|E-mail|Share|WhatsApp|LinkedIn|Pinterest"
    r"|Reddit|Print|Messenger|Flipboard|Telegram|Save|Comments?)"
)
# Two or more share-button labels glued together (and to the text before them),
# optionally followed by a "Follow" button, in front of the paragraph proper.
_GLUED_SHARE = re.compile(
    rf"^(?P<prefix>[^.!?]{{0,{_MAX_GLUE_PREFIX}}}?)(?:(?<=[a-z0-9])|^)(?:{_SHARE_WORD}\s*){{2,}}"
    rf"(?:Follow\s+)?(?=[A-Z0-9\"“‘'])"
)


@dataclass(frozen=True)
class DumpResult:
    """What a text dump says: the article's paragraphs and the header's fields."""

    title: str | None
    paragraphs: list[str]
    site_name: str | None = None
    published_at: datetime | None = None
    modified_at: datetime | None = None
    authors: list[str] = field(default_factory=list)
    section: str | None = None


@dataclass
class _Header:
    """Fields collected from the lines before the article's first paragraph."""

    titles: list[str] = field(default_factory=list)
    site_name: str | None = None
    published_at: datetime | None = None
    modified_at: datetime | None = None
    authors: list[str] = field(default_factory=list)
    section: str | None = None


def clean_dump(raw: RawArticle, text: str, *, flags: tuple[str, ...] = ()) -> CleanArticle:
    """A ``CleanArticle`` from the text dump ``text`` of ``raw``.

    Promises: the article's paragraphs, whole and in order, separated by one
    blank line; relative dates resolved against ``raw.fetched_at``. Raises
    ``PoisonMessage("no-text")`` when no article paragraph is left.
    """
    result = clean_text(text, fetched_at=raw.fetched_at, feed_title=raw.feed_title)
    body = join_paragraphs(result.paragraphs)
    if not body:
        raise PoisonMessage("no-text", "no article text left after removing site chrome")
    return CleanArticle(
        id=raw.id,
        source_id=raw.source_id,
        url=raw.url,
        canonical_url=raw.final_url or raw.url,
        fetched_at=raw.fetched_at,
        title=result.title or raw.feed_title or "",
        text=body,
        authors=result.authors,
        published_at=plausible_date(result.published_at, raw.fetched_at) or raw.feed_published_at,
        modified_at=plausible_date(result.modified_at, raw.fetched_at),
        language=detect_language(body),
        site_name=result.site_name,
        section=result.section,
        word_count=word_count(body),
        extractor="newsflow+textdump",
        extractor_version=TEXTDUMP_VERSION,
        flags=list(flags),
    )


def clean_text(text: str, *, fetched_at: datetime, feed_title: str | None = None) -> DumpResult:
    """Split a text dump into its title, header fields and article paragraphs.

    Promises: every returned paragraph is a whole (normalised) line of the
    dump, possibly without share-button text glued to its start, and they
    come in the dump's order; nothing after a line that opens the post-article
    block ("Related Articles", "Comments", "Download the app") is kept.
    """
    lines = [_BULLET.sub("", line).strip() for line in normalise(text).split("\n")]
    lines = [line for line in lines if line]
    header = _Header()
    start = _article_start(lines, header, fetched_at)
    title = _pick_title(header.titles, feed_title)
    paragraphs = _article_paragraphs(lines[start:], title)
    return DumpResult(
        title=title,
        paragraphs=paragraphs,
        site_name=header.site_name,
        published_at=header.published_at,
        modified_at=header.modified_at,
        authors=header.authors,
        section=header.section,
    )


def is_boilerplate(paragraph: str) -> bool:
    """Whether a whole paragraph is page furniture rather than article text.

    Promises True only for: a line of navigation, button, badge or
    decorative-image text; a cookie notice, newsletter box or image credit;
    a bare date, relative time or byline. The HTML path uses it on
    extracted paragraphs, so one vocabulary serves both kinds of input.
    """
    # Every rule matches short lines only; long paragraphs skip the regexes.
    if len(paragraph.split()) > _MAX_BOX_WORDS:
        return False
    words = len(_WORD.findall(paragraph))
    if _is_chrome(paragraph, words) or _is_box(paragraph, words):
        return True
    scratch = _Header()  # only whether the line is a date matters, not which
    if words <= _MAX_DATE_LINE_WORDS and (
        _read_absolute_date(paragraph, scratch)
        or _read_relative_date(paragraph, scratch, _ANY_TIME)
    ):
        return True
    byline = _BYLINE.match(paragraph)
    return bool(byline and _names(byline["names"]))


# --- header ----------------------------------------------------------------


def _article_start(lines: list[str], header: _Header, fetched_at: datetime) -> int:
    """Index of the first article paragraph; header fields are collected on the way."""
    for index, line in enumerate(lines):
        if _is_chrome(line) or _TERMINATOR.match(line) or _is_box(line):
            continue
        if _read_header_line(line, header, fetched_at):
            continue
        if _is_prose(line):
            return index
        if len(_WORD.findall(line)) <= _MAX_TITLE_WORDS:
            header.titles.append(line)
    return len(lines)


def _read_header_line(line: str, header: _Header, fetched_at: datetime) -> bool:
    """Take a source/date line, byline or breadcrumb into ``header``; False if it is none.

    A line of parts ("By Ana Lima | 3 March 2025 | 4 min read") is a header
    line when any part is a date or a byline; the other parts are labels.
    """
    if _read_part(line, header, fetched_at):
        return True
    parts = [p.strip() for p in _PART_SEPARATOR.split(line) if p.strip()]
    if len(parts) < 2:
        return False
    recognised = [_read_part(part, header, fetched_at) for part in parts]
    return any(recognised)


def _read_part(text: str, header: _Header, fetched_at: datetime) -> bool:
    if _read_relative_date(text, header, fetched_at) or _read_absolute_date(text, header):
        return True
    if (byline := _BYLINE.match(text)) and (names := _names(byline["names"])):
        header.authors = header.authors or names
        return True
    crumbs = _BREADCRUMB.split(text)
    if len(crumbs) >= 2 and all(0 < len(c.split()) <= 3 for c in crumbs):
        header.section = header.section or (crumbs[1] if crumbs[0].lower() == "home" else crumbs[0])
        return True
    return False


def _read_relative_date(line: str, header: _Header, fetched_at: datetime) -> bool:
    """ "Forbes6 days ago", "time13 minutes ago", "Updated 2h ago" → site and date."""
    line = _ICON_PREFIX.sub("", line)
    match = _RELATIVE.match(line) or _RELATIVE_WORD.match(line) or _RELATIVE_DE.match(line)
    if not match:
        return False
    site = (match["site"] or "").strip(" •·|,–-")
    if site and (len(site.split()) > 5 or _SENTENCE_END.search(site)):
        return False
    when = _resolve_relative(match, fetched_at)
    if (match.groupdict().get("kind") or "").lower() == "updated":
        header.modified_at = header.modified_at or when
    else:
        header.published_at = header.published_at or when
    if site and not header.site_name:
        header.site_name = site
    return True


def _resolve_relative(match: re.Match[str], fetched_at: datetime) -> datetime:
    groups = match.groupdict()
    word = (groups.get("word") or "").lower()
    if word in ("just now", "today"):
        return fetched_at
    if word == "yesterday":
        return fetched_at - timedelta(days=1)
    count = int(match["n"]) if match["n"].isdigit() else 1  # "a", "an", "one", "einem"
    unit = match["unit"].lower()
    unit = _UNITS.get(unit, _UNITS.get(unit.rstrip("s"), "days"))
    resolved: datetime = fetched_at - relativedelta(**{unit: count})
    return resolved


def _read_absolute_date(line: str, header: _Header) -> bool:
    """ "Published: 4 March 2025 10:30 GMT" → published_at (or modified_at if updated)."""
    prefix = _DATE_PREFIX.match(line)
    rest = line[prefix.end() :] if prefix else line
    if len(rest.split()) > _MAX_DATE_LINE_WORDS or not any(c.isdigit() for c in rest):
        return False
    if not _MONTH.search(rest):
        return False
    when = parse_date(rest)
    if when is None:
        return False
    kind = (prefix["kind"] or "").lower() if prefix else ""
    if kind in ("updated", "last updated", "modified"):
        header.modified_at = header.modified_at or when
    else:
        header.published_at = header.published_at or when
    return True


def _names(text: str) -> list[str]:
    names = [n.strip() for n in re.split(r",\s*|\s+and\s+|\s*&\s*", text) if n.strip()]
    return names if names and all(_NAME.match(n) for n in names) else []


def _pick_title(candidates: list[str], feed_title: str | None) -> str | None:
    """The header line that is the headline.

    Preference: the feed's own title; a line the page repeats (sites print the
    headline twice); the first line of four or more words; the first line.
    """
    if feed_title:
        key = _key(feed_title)
        if any(_key(c) == key for c in candidates):
            return feed_title
    keys = [_key(c) for c in candidates]
    for candidate, key in zip(candidates, keys, strict=True):
        if keys.count(key) > 1:
            return candidate
    for candidate in candidates:
        if len(_WORD.findall(candidate)) >= 4:
            return candidate
    return candidates[0] if candidates else None


# --- article ---------------------------------------------------------------


def _article_paragraphs(lines: list[str], title: str | None) -> list[str]:
    """The article's paragraphs from its first line up to the post-article block."""
    title_key = _key(title) if title else None
    kept: list[str] = []
    for line in lines:
        if _TERMINATOR.match(line):
            break
        paragraph = _strip_glued_share(line)
        key = _key(paragraph)
        if not key or key == title_key or _is_chrome(paragraph) or _is_box(paragraph):
            continue
        if kept and key == _key(kept[-1]):
            continue  # a widget printed the same line twice in a row
        kept.append(paragraph)
    return _trim_trailing_chrome(kept)


def _trim_trailing_chrome(paragraphs: list[str]) -> list[str]:
    """Drop short non-sentences after the last prose paragraph (CTA leftovers)."""
    end = len(paragraphs)
    while end > 0 and not _is_prose(paragraphs[end - 1]):
        end -= 1
    return paragraphs[:end]


def _strip_glued_share(line: str) -> str:
    """Remove topic tags and share-button text glued to a paragraph's start.

    "…National securityFacebookTweetLink Follow US special envoy…" starts at "US".
    """
    match = _GLUED_SHARE.match(line)
    return line[match.end() :] if match else line


# --- line classes ----------------------------------------------------------


def _is_chrome(line: str, words: int | None = None) -> bool:
    """A whole line of navigation, button, badge or decorative-image text.

    ``words`` is the line's word count, when the caller has it already.
    """
    if _CHROME.match(line):
        return True
    words = len(_WORD.findall(line)) if words is None else words
    if words <= 8 and _CALL_TO_ACTION.match(line) and not _SENTENCE_END.search(line):
        return True
    if words <= _MAX_TEASER_WORDS and _INLINE_TEASER.match(line):
        return True
    return words <= _MAX_TEASER_WORDS and _is_caption(line)


def _is_box(paragraph: str, words: int | None = None) -> bool:
    """A cookie notice, newsletter sign-up or caption rather than article prose."""
    words = len(_WORD.findall(paragraph)) if words is None else words
    if words > _MAX_BOX_WORDS:
        return False
    # Substring gates first: the regexes below are slow on prose that has
    # none of their keywords, which is nearly every paragraph.
    lowered = paragraph.lower()
    if "cookie" in lowered and _COOKIE.search(paragraph) and _COOKIE_CONTEXT.search(paragraph):
        return True
    if any(word in lowered for word in _NEWSLETTER_GATE) and _NEWSLETTER.search(paragraph):
        return True
    return _is_caption(paragraph)


def _is_caption(line: str) -> bool:
    """An image caption or credit ("Photo: …", "(AP Photo/…)", "© Agency")."""
    marked = ":" in line or "©" in line or line.endswith(")")
    if not marked and not line.lower().endswith("getty images"):
        return False
    return bool(_CAPTION.search(line))


def _is_prose(line: str) -> bool:
    words = len(_WORD.findall(line))
    return words >= _PROSE_WORDS or (words >= _SENTENCE_WORDS and bool(_SENTENCE_END.search(line)))


def _key(text: str) -> str:
    return " ".join(_WORD.findall(text)).casefold()
