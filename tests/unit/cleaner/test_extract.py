"""services.cleaner.extract.clean on small hand-written pages and on bad input."""

from __future__ import annotations

import pickle
import time
from datetime import UTC, datetime

import pytest

from services.cleaner.extract import DEFAULT_MAX_BYTES, clean
from shared.exceptions import PoisonMessage
from shared.text import normalise
from tests.unit.cleaner.pages import (
    BARE_PAGE,
    BARE_URL,
    FULL_PAGE,
    META_ONLY_PAGE,
    PARAGRAPHS,
    raw_page,
)

ARTICLE_TEXT = "\n\n".join(PARAGRAPHS)


def test_full_page_text_is_the_article_paragraphs() -> None:
    article = clean(raw_page(FULL_PAGE))
    # No headline, byline, navigation, related links or footer; paragraphs kept.
    assert article.text == ARTICLE_TEXT
    assert article.word_count == len(ARTICLE_TEXT.split())


def test_full_page_metadata_comes_from_json_ld_and_opengraph() -> None:
    article = clean(raw_page(FULL_PAGE))
    assert article.title == "Harbour town votes to keep its ferry"
    assert article.authors == ["Mara Quill", "Tobias Fenn"]
    assert article.published_at == datetime(2024, 5, 14, 7, 30, tzinfo=UTC)
    assert article.modified_at == datetime(2024, 5, 14, 11, 0, tzinfo=UTC)
    assert article.site_name == "The Coastal Courier"
    assert article.canonical_url == "https://courier.example/news/2024/05/14/harbour-ferry-vote"
    assert article.description == "Residents of Port Ellery chose the ferry over a bridge."
    assert article.image == "https://courier.example/img/ferry.jpg"
    assert article.section == "Local"
    assert article.tags == ["transport", "Port Ellery"]
    assert article.language == "en"


def test_ids_urls_and_fetch_time_are_carried_over() -> None:
    raw = raw_page(FULL_PAGE)
    article = clean(raw)
    assert (article.id, article.source_id, article.url, article.fetched_at) == (
        raw.id, raw.source_id, raw.url, raw.fetched_at,
    )  # fmt: skip


def test_records_extractor_and_versions() -> None:
    article = clean(raw_page(FULL_PAGE))
    assert article.extractor == "newsflow+rs-trafilatura"
    ours, engine = article.extractor_version.split("/")
    assert ours and engine[0].isdigit()


def test_meta_only_page() -> None:
    article = clean(raw_page(META_ONLY_PAGE))
    assert article.text == ARTICLE_TEXT
    assert article.title == "Harbour town votes to keep its ferry"
    assert article.authors == ["Mara Quill"]
    assert article.published_at == datetime(2024, 5, 14, 7, 30, tzinfo=UTC)
    assert article.canonical_url == "https://weekly.example/ferry-vote"
    assert article.site_name == "Estuary Weekly"
    assert article.image == "https://cdn.weekly.example/ferry.png"
    assert article.tags == ["ferry", "vote", "Port Ellery"]


def test_bare_page_falls_back_to_title_element_url_date_and_final_url() -> None:
    article = clean(raw_page(BARE_PAGE, url=BARE_URL))
    assert article.text == ARTICLE_TEXT
    assert article.title == "Harbour town votes to keep its ferry"
    assert article.published_at == datetime(2024, 5, 14, tzinfo=UTC)
    assert article.canonical_url == BARE_URL
    assert article.authors == []
    assert article.site_name is None


def test_feed_values_fill_what_the_page_lacks() -> None:
    page = "<html><body>" + "".join(f"<p>{p}</p>" for p in PARAGRAPHS) + "</body></html>"
    raw = raw_page(page, url="https://x.example/p?id=7", feed_title="Ferry stays")
    raw = raw.model_copy(update={"feed_published_at": datetime(2024, 5, 14, tzinfo=UTC)})
    article = clean(raw)
    assert article.title == "Ferry stays"
    assert article.published_at == datetime(2024, 5, 14, tzinfo=UTC)


def test_teaser_links_and_related_tail_are_dropped() -> None:
    teasers = "".join(
        f'<p><a href="/t{i}">Another story about the harbour number {i} today</a></p>'
        for i in range(3)
    )
    page = (
        "<html><body><article>" + "".join(f"<p>{p}</p>" for p in PARAGRAPHS)
        + "<p>Related stories</p>" + teasers + "</article></body></html>"
    )  # fmt: skip
    assert clean(raw_page(page)).text == ARTICLE_TEXT


def test_headline_repeated_as_first_paragraph_is_dropped() -> None:
    page = (
        "<html><head><meta property='og:title' content='Harbour town keeps ferry'></head>"
        "<body><article><p>Harbour town keeps ferry</p>"
        + "".join(f"<p>{p}</p>" for p in PARAGRAPHS) + "</article></body></html>"
    )  # fmt: skip
    assert clean(raw_page(page)).text == ARTICLE_TEXT


def test_language_is_identified_from_the_text_not_the_declaration() -> None:
    german = (
        "Die Bewohner von Port Ellery haben am Montag dafür gestimmt, die kleine Autofähre zu "
        "behalten, die seit 1961 über die Flussmündung fährt. Der Plan für eine Mautbrücke ist "
        "damit vom Tisch, und der Gemeinderat will nun Geld für neue Motoren beantragen."
    )
    page = f'<html lang="en"><body><article><p>{german}</p><p>{german}</p></article></body></html>'
    assert clean(raw_page(page)).language == "de"


def test_clean_is_a_picklable_top_level_function() -> None:
    assert pickle.loads(pickle.dumps(clean)) is clean


# --- bad input -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "content_type", "reason"),
    [
        ("", "text/html", "empty-page"),
        ("  \n\t  ", "text/html", "empty-page"),
        ("\x00\x01\x02\x03PK\x03\x04" * 500, "text/html", "binary-body"),
        ("\ufffd" * 2000 + "<p>x</p>", "text/html", "binary-body"),
        ("%PDF-1.7 ...", "application/pdf", "not-html"),
        ('{"a": 1}', "application/json", "not-html"),
        ("<html><body><nav><a href='/'>Home</a></nav></body></html>", "text/html", "no-text"),
        ("<" * 50_000, "text/html", "no-text"),
    ],
)
def test_input_that_cannot_be_an_article_is_dead_lettered(
    body: str, content_type: str, reason: str
) -> None:
    with pytest.raises(PoisonMessage) as caught:
        clean(raw_page(body, content_type=content_type))
    assert caught.value.reason == reason


def test_oversized_input_is_truncated_and_flagged() -> None:
    page = "<html><body>" + "".join(f"<p>{p}</p>" for p in PARAGRAPHS * 200) + "</body></html>"
    article = clean(raw_page(page), max_bytes=20_000)
    assert "truncated-input" in article.flags
    assert article.text.startswith(PARAGRAPHS[0])
    assert len(article.text.encode()) < 20_000


def test_default_cap_is_a_few_megabytes() -> None:
    assert 1_000_000 <= DEFAULT_MAX_BYTES <= 16_000_000


@pytest.mark.parametrize(
    "page",
    [
        "<html><body>" + "<div>" * 100_000 + "<p>" + PARAGRAPHS[0] + "</p>",
        "<html><body>" + "<table><tr><td>" * 3_000 + "<p>" + PARAGRAPHS[0] + "</p>",
        "<html><body>" + "<b><i>" * 20_000 + "<p>" + PARAGRAPHS[0] + "</p>",
        "<html><body>" + "<span>" * 400 + "<p>" + PARAGRAPHS[0] + "</p>" + "</span>" * 400,
    ],
    ids=["100k-divs", "3k-tables", "20k-formatting", "400-spans"],
)
def test_pathological_nesting_is_flagged_not_hung(page: str) -> None:
    started = time.monotonic()
    article = clean(raw_page(page))
    assert time.monotonic() - started < 5
    assert "deep-nesting" in article.flags
    assert PARAGRAPHS[0] in article.text


def test_unclosed_attribute_quotes_do_not_make_the_scan_quadratic() -> None:
    started = time.monotonic()
    with pytest.raises(PoisonMessage):
        clean(raw_page('<a href="' * 60_000))
    assert time.monotonic() - started < 5


def test_utf8_read_as_cp1252_is_repaired_and_flagged() -> None:
    text = "Café owners in Liège said the été festival — a décor of lights — was a success. " * 3
    mojibake = text.encode("utf-8").decode("cp1252")
    page = f"<html><body><article><p>{mojibake}</p><p>{mojibake}</p></article></body></html>"
    article = clean(raw_page(page))
    assert "charset-repaired" in article.flags
    assert article.text == normalise(f"{text}\n\n{text}")


def test_real_latin1_text_is_not_touched() -> None:
    text = "SÃO PAULO — Ãgua e Âmbar: três nomes de ruas antigas voltam ao mapa da cidade. " * 3
    page = f"<html><body><article><p>{text}</p><p>{text}</p></article></body></html>"
    article = clean(raw_page(page))
    assert "charset-repaired" not in article.flags
    assert article.text == normalise(f"{text}\n\n{text}")


def test_lone_surrogates_do_not_crash() -> None:
    page = "<html><body><article><p>broken \ud800 char</p>" + "".join(
        f"<p>{p}</p>" for p in PARAGRAPHS
    )
    article = clean(raw_page(page + "</article></body></html>"))
    article.model_dump_json()  # the wire format must accept the text
    assert PARAGRAPHS[1] in article.text


def test_html_declared_page_without_markup_is_cleaned_as_text() -> None:
    article = clean(raw_page("\n".join(PARAGRAPHS)))
    assert "not-html-as-text" in article.flags
    assert article.text == ARTICLE_TEXT
    assert article.extractor == "newsflow+textdump"


def test_text_body_is_cleaned_as_a_text_dump() -> None:
    dump = "logo\nFerry stays\nCourier2 hours ago\n" + "\n".join(PARAGRAPHS) + "\nComments\nNice!"
    article = clean(raw_page(dump, body_kind="text", content_type="text/plain"))
    assert article.extractor == "newsflow+textdump"
    assert article.text == ARTICLE_TEXT
    assert article.title == "Ferry stays"
    assert article.site_name == "Courier"
    assert article.published_at == datetime(2024, 5, 15, 7, 0, tzinfo=UTC)
