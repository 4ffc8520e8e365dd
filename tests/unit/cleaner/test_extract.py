"""services.cleaner.extract.clean on small hand-written pages and on bad input."""

from __future__ import annotations

import pickle
import time
from datetime import UTC, datetime

import pytest

from services.cleaner.extract import DEFAULT_MAX_BYTES, clean, clean_message
from shared import codec
from shared.exceptions import PoisonMessage
from shared.models import CleanArticle
from shared.text import normalise
from shared.urls import article_id, canonical_url
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


def test_urls_and_fetch_time_are_carried_over_and_the_id_follows_the_canonical_url() -> None:
    raw = raw_page(FULL_PAGE)
    article = clean(raw)
    assert (article.source_id, article.url, article.fetched_at) == (
        raw.source_id, raw.url, raw.fetched_at,
    )  # fmt: skip
    assert article.id == article_id(canonical_url(raw.final_url, declared=article.canonical_url))


def test_a_republication_pointing_at_its_original_gets_the_original_id() -> None:
    original = "https://wire.example/news/2026/gates-open"
    page = FULL_PAGE.replace("<head>", f'<head><link rel="canonical" href="{original}">', 1)
    copy = clean(raw_page(page).model_copy(update={"final_url": "https://courier.example/x/1"}))
    assert copy.id == article_id(canonical_url(original))


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


def test_text_without_spaces_is_compared_by_characters() -> None:
    # Japanese has no spaces between words: compared word by word, the two
    # extractors would seem to disagree and the slower fallback would run.
    paragraphs = [
        "港町の小さなフェリーは、住民投票の結果、これからも運航を続けることになった。",
        "投票率は七十一パーセントで、議会が記録した中で最も高かった。",
        "議会は今後、古くなったエンジンを交換するための資金を地域の交通局に求める予定だ。",
    ]
    page = "<html><body><article>" + "".join(f"<p>{p}</p>" for p in paragraphs)
    article = clean(raw_page(page + "</article></body></html>"))
    assert article.extractor == "newsflow+rs-trafilatura"
    assert article.text == "\n\n".join(paragraphs)
    assert article.language == "ja"


def test_link_only_paragraphs_that_are_urls_are_kept() -> None:
    links = '<p><a href="http://example.com/x">http://example.com/shop/item-42</a></p>'
    page = (
        "<html><body><article>" + "".join(f"<p>{p}</p>" for p in PARAGRAPHS) + links
        + "</article></body></html>"
    )  # fmt: skip
    assert clean(raw_page(page)).text == ARTICLE_TEXT + "\n\nhttp://example.com/shop/item-42"


def test_short_paragraphs_are_not_glued_together() -> None:
    # rs-trafilatura joins the blocks of a small document without separators.
    paragraphs = [
        "The ferry stays, the town decided in a vote on Monday.",
        "Turnout was the highest on record, said the clerk.",
        "The council will ask for money to replace the engines.",
    ]
    page = "<html><body><article>" + "".join(f"<p>{p}</p>" for p in paragraphs)
    article = clean(raw_page(page + "</article></body></html>"))
    assert article.text == "\n\n".join(paragraphs)


def test_a_teaser_card_beside_the_article_element_does_not_leak_in() -> None:
    card = (
        "<article class='card'><h3>Ferry timetable changes for the summer season</h3>"
        "<p>Boats will run every twenty minutes from June, the operator said, with extra "
        "crossings at weekends and on public holidays.</p></article>"
    )
    page = (
        "<html><body><div class='grid'>" + card + "</div><article class='story'>"
        + "".join(f"<p>{p}</p>" for p in PARAGRAPHS) + "</article></body></html>"
    )  # fmt: skip
    assert clean(raw_page(page)).text == ARTICLE_TEXT


def test_fast_path_takes_the_article_element_only_when_it_holds_the_text() -> None:
    from selectolax.lexbor import LexborHTMLParser

    from services.cleaner.extract import _article_subtree

    story = "".join(f"<p>{p}</p>" for p in PARAGRAPHS)
    teaser = "<p>" + "A teaser about something else entirely, one line long. " * 3 + "</p>"

    def subtree(html: str) -> str | None:
        return _article_subtree(LexborHTMLParser(f"<html><body>{html}</body></html>"))

    chosen = subtree(f"<div>{teaser}</div><article id='s'>{story}</article>")
    assert chosen is not None and 'id="s"' in chosen and "teaser" not in chosen
    # Text outside the element would be lost: the whole page is used instead.
    assert subtree(f"<div>{story}</div><article>{teaser}</article>") is None
    # The most specific declaration wins over a bigger, vaguer one.
    body = f"<article><div itemprop='articleBody'>{story}</div><p>x</p></article>"
    chosen = subtree(body)
    assert chosen is not None and chosen.startswith("<html><body><div itemprop")
    assert subtree(story) is None  # nothing declared


def test_json_ld_article_body_is_the_last_resort_and_keeps_its_paragraphs() -> None:
    body = "\\n".join(PARAGRAPHS)
    page = (
        '<html><head><script type="application/ld+json">{"@type": "NewsArticle", '
        f'"headline": "Ferry stays", "articleBody": "{body}"}}</script></head>'
        "<body><div id='app'></div></body></html>"
    )
    article = clean(raw_page(page))
    assert article.extractor == "newsflow+json-ld"
    assert article.text == ARTICLE_TEXT


def test_clean_message_is_clean_from_wire_to_wire() -> None:
    raw = raw_page(FULL_PAGE)
    key, value = clean_message(codec.encode(raw))
    assert codec.decode(CleanArticle, value) == clean(raw)
    assert key == clean(raw).id


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (None, "invalid-message"),
        (b"{not json", "invalid-message"),
        (b'{"schema_version": 9}', "invalid-message"),
    ],
)
def test_clean_message_refuses_what_the_codec_refuses(value: bytes | None, reason: str) -> None:
    with pytest.raises(PoisonMessage) as caught:
        clean_message(value)
    assert caught.value.reason == reason


def test_clean_message_keeps_the_reason_clean_gives() -> None:
    raw = raw_page("<html><body><nav>Home</nav></body></html>")
    with pytest.raises(PoisonMessage) as caught:
        clean(raw)
    with pytest.raises(PoisonMessage) as again:
        clean_message(codec.encode(raw))
    assert again.value.reason == caught.value.reason
