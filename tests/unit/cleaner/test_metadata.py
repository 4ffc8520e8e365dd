"""services.cleaner.metadata: each source of each field, and malformed metadata."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from selectolax.lexbor import LexborHTMLParser

from services.cleaner.metadata import (
    PageMetadata,
    date_from_url,
    detect_language,
    extract_metadata,
    guessed_authors,
    parse_date,
    plausible_date,
)

BASE = "https://news.example/world/story.html"


def meta_of(head: str, body: str = "", url: str = BASE) -> PageMetadata:
    return extract_metadata(
        LexborHTMLParser(f"<html><head>{head}</head><body>{body}</body></html>"), url
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-05-14T08:30:00Z", datetime(2024, 5, 14, 8, 30, tzinfo=UTC)),
        ("2024-05-14T08:30:00+02:00", datetime(2024, 5, 14, 6, 30, tzinfo=UTC)),
        ("2024-05-14T08:30:00.000-0500", datetime(2024, 5, 14, 13, 30, tzinfo=UTC)),
        ("2024-05-14", datetime(2024, 5, 14, tzinfo=UTC)),
        ("Tue, 14 May 2024 08:30:00 GMT", datetime(2024, 5, 14, 8, 30, tzinfo=UTC)),
        ("May 14, 2024", datetime(2024, 5, 14, tzinfo=UTC)),
        ("14 May 2024 08:30 EST", datetime(2024, 5, 14, 8, 30, tzinfo=UTC)),
    ],
)
def test_parse_date_reads_iso_and_common_forms_into_utc(text: str, expected: datetime) -> None:
    assert parse_date(text) == expected


@pytest.mark.parametrize("text", ["", "soon", "0000-00-00", "1970-01-01", "2999-01-01", 42, None])
def test_parse_date_refuses_placeholders_and_garbage(text: object) -> None:
    assert parse_date(text) is None


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://x.example/2019/11/20/story", datetime(2019, 11, 20, tzinfo=UTC)),
        ("https://x.example/news/2019/1/5/story", datetime(2019, 1, 5, tzinfo=UTC)),
        ("https://x.example/news/20191120-story.html", datetime(2019, 11, 20, tzinfo=UTC)),
        ("https://x.example/2019-11-20/story", datetime(2019, 11, 20, tzinfo=UTC)),
        ("https://x.example/story-12345678", None),
        ("https://x.example/2019/13/40/story", None),
    ],
)
def test_date_from_url(url: str, expected: datetime | None) -> None:
    assert date_from_url(url) == expected


def test_plausible_date_drops_dates_after_the_fetch() -> None:
    fetched = datetime(2024, 5, 15, tzinfo=UTC)
    assert plausible_date(fetched - timedelta(days=3), fetched) == fetched - timedelta(days=3)
    assert plausible_date(fetched + timedelta(hours=5), fetched) == fetched + timedelta(hours=5)
    assert plausible_date(fetched + timedelta(days=30), fetched) is None
    assert plausible_date(None, fetched) is None


def test_json_ld_wins_over_opengraph() -> None:
    meta = meta_of(
        '<meta property="og:title" content="OG title">'
        '<meta property="article:published_time" content="2024-01-02T00:00:00Z">'
        '<script type="application/ld+json">{"@type": ["NewsArticle"], "headline": "LD title",'
        ' "datePublished": "2024-01-01T00:00:00Z", "author": "By Ann Lee and Bo Chen"}</script>'
    )
    assert meta.title == "LD title"
    assert meta.published_at == datetime(2024, 1, 1, tzinfo=UTC)
    assert meta.authors == ["Ann Lee", "Bo Chen"]


def test_broken_and_irrelevant_json_ld_is_skipped() -> None:
    meta = meta_of(
        '<script type="application/ld+json">{"@type": "NewsArticle", broken</script>'
        '<script type="application/ld+json">[{"@type": "BreadcrumbList"}, 7, "x"]</script>'
        '<script type="application/ld+json">{"@type": "BlogPosting", "headline": "Kept",'
        ' "image": [{"url": "/i.png"}], "articleSection": ["Tech", "AI"],'
        ' "keywords": ["a", "b", "A"]}</script>'
    )
    assert meta.title == "Kept"
    assert meta.image == "https://news.example/i.png"
    assert meta.section == "Tech"
    assert meta.tags == ["a", "b"]


def test_author_urls_emails_and_sentences_are_not_names() -> None:
    meta = meta_of(
        '<meta property="article:author" content="https://facebook.com/someone">'
        '<meta name="author" content="newsdesk@example.com">',
        '<a rel="author" href="/staff/ann">Ann Lee</a>',
    )
    assert meta.authors == ["Ann Lee"]


@pytest.mark.parametrize(
    ("head", "title"),
    [
        ("<title>Ferry stays | Estuary Weekly</title>", "Ferry stays"),
        (
            "<title>Estuary Weekly - Ferry stays in Port Ellery</title>",
            "Estuary Weekly - Ferry stays in Port Ellery",
        ),
        (
            '<meta property="og:site_name" content="Estuary Weekly">'
            "<title>Estuary Weekly - Ferry stays in Port Ellery</title>",
            "Ferry stays in Port Ellery",
        ),
        ('<meta property="og:title" content="Ferry stays: what next">', "Ferry stays: what next"),
    ],
)
def test_site_name_decoration_is_removed_from_titles(head: str, title: str) -> None:
    assert meta_of(head).title == title


def test_canonical_is_resolved_and_must_be_http() -> None:
    assert (
        meta_of('<link rel="canonical" href="../a/b">').canonical_url == "https://news.example/a/b"
    )
    assert meta_of('<link rel="canonical" href="javascript:void(0)">').canonical_url is None


def test_time_element_and_url_are_date_fallbacks() -> None:
    with_time = meta_of(
        "", '<article><time datetime="2024-03-01T10:00:00Z">1 March</time></article>'
    )
    assert with_time.published_at == datetime(2024, 3, 1, 10, tzinfo=UTC)
    from_url = meta_of("", "", url="https://x.example/2024/03/02/story")
    assert from_url.published_at == datetime(2024, 3, 2, tzinfo=UTC)


def test_declared_language_is_normalised() -> None:
    html = LexborHTMLParser('<html lang="pt-BR"><body></body></html>')
    assert extract_metadata(html, BASE).language == "pt"


def test_detect_language_prefers_text_and_falls_back_to_declaration() -> None:
    assert detect_language("Le conseil municipal a voté lundi pour garder le bac.") == "fr"
    assert detect_language("OK", declared="de") == "de"


@pytest.mark.parametrize(
    ("byline", "names"),
    [
        ("By MEG KINNARD and ERRIN HAINES", ["MEG KINNARD", "ERRIN HAINES"]),
        ("Kevin Johnson and Kevin McCoy", ["Kevin Johnson", "Kevin McCoy"]),
        ("Mary J. Blige", ["Mary J. Blige"]),
        ("webnata", []),
        ("kei_eno", []),
        ("Nama  (wajib)", []),
        ("AS", []),
        (None, []),
    ],
)
def test_guessed_authors_keep_only_plausible_names(byline: str | None, names: list[str]) -> None:
    assert guessed_authors(byline) == names
