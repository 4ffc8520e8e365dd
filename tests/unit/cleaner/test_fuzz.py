"""Random and mutated pages: clean() returns an article or dead-letters, and never hangs."""

from __future__ import annotations

import time
import unicodedata
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.cleaner.extract import clean
from shared.exceptions import PoisonMessage
from shared.models import CleanArticle
from tests.unit.cleaner.pages import BARE_PAGE, FULL_PAGE, META_ONLY_PAGE, raw_page

# Generous for a 2-core CI machine: a page normally takes ~10 ms.
TIME_BOUND_S = 5.0
SETTINGS = settings(
    max_examples=200,
    deadline=timedelta(seconds=TIME_BOUND_S),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

TAGS = ["div", "p", "span", "table", "tr", "td", "b", "i", "a", "article", "script", "svg", "ul"]
FRAGMENTS = st.one_of(
    st.sampled_from(
        ['<a href="', "<!--", "-->", "<![CDATA[", "</", "<", ">", "&", "&amp", "&#", "\x00",
         "\ufffd", "\ud800", "Ã©", "<script>", "</script>", "<meta charset=latin-1>",
         '<script type="application/ld+json">{"@type": "NewsArticle", "headline": ',
         "<time datetime='2024-99-99'>", "<html lang='xx-YY'>"]
    ),
    st.builds(lambda tag, n: f"<{tag}>" * n, st.sampled_from(TAGS), st.integers(1, 3000)),
    st.builds(lambda tag, n: f"</{tag}>" * n, st.sampled_from(TAGS), st.integers(1, 50)),
    st.text(max_size=200),
)  # fmt: skip


@st.composite
def mutated_pages(draw: st.DrawFn) -> str:
    """A real-looking page with slices deleted, duplicated or replaced by junk."""
    page = draw(st.sampled_from([FULL_PAGE, META_ONLY_PAGE, BARE_PAGE]))
    for _ in range(draw(st.integers(1, 6))):
        start = draw(st.integers(0, len(page)))
        end = draw(st.integers(start, min(len(page), start + 400)))
        mutation = draw(st.sampled_from(["delete", "duplicate", "insert", "truncate"]))
        if mutation == "delete":
            page = page[:start] + page[end:]
        elif mutation == "duplicate":
            page = page[:end] + page[start:end] * draw(st.integers(1, 20)) + page[end:]
        elif mutation == "insert":
            page = page[:start] + draw(FRAGMENTS) + page[start:]
        else:
            page = page[:start]
    return page


def _in_canonical_layout(text: str) -> bool:
    """What ``normalise`` promises about layout (a second call would decode entities again)."""
    lines = text.split("\n")
    return (
        text == text.strip()
        and "\n\n\n" not in text
        and all(line == line.strip() and "  " not in line for line in lines)
        and unicodedata.is_normalized("NFC", text)
    )


def _check(body: str, **kwargs: str) -> None:
    started = time.monotonic()
    try:
        article = clean(raw_page(body, **kwargs))
    except PoisonMessage as exc:
        assert exc.reason
    else:
        assert isinstance(article, CleanArticle)
        assert article.text and _in_canonical_layout(article.text)
        article.model_dump_json()  # serialisable for the wire
    assert time.monotonic() - started < TIME_BOUND_S


@SETTINGS
@given(mutated_pages())
def test_mutated_pages(page: str) -> None:
    _check(page)


@SETTINGS
@given(
    st.text(max_size=5_000),
    st.sampled_from(["text/html", "text/plain", "application/xhtml+xml", ""]),
    st.sampled_from(["html", "text"]),
)
def test_random_text_bodies(body: str, content_type: str, body_kind: str) -> None:
    _check(body, content_type=content_type, body_kind=body_kind)


@SETTINGS
@given(st.binary(max_size=5_000))
def test_random_bytes_decoded_with_a_wrong_charset(data: bytes) -> None:
    _check(data.decode("latin-1"))


@SETTINGS
@given(st.lists(FRAGMENTS, max_size=30))
def test_pages_made_of_junk_fragments(fragments: list[str]) -> None:
    _check("".join(fragments))
