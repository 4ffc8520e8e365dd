"""services.cleaner.textdump: the fixture suite and the rules one by one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.cleaner.textdump import clean_text
from tests.unit.cleaner.dumpcases import DumpCase, load_cases, run_case

CASES = load_cases()
FETCHED_AT = datetime(2025, 3, 10, 15, 0, tzinfo=UTC)
PROSE = (
    "The council met on Tuesday evening and agreed to spend more on repairing the old "
    "harbour wall before the winter storms arrive."
)


def test_the_suite_has_at_least_twenty_dumps() -> None:
    assert len(CASES) >= 20


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_dump_fixture_is_cleaned_exactly_as_expected(case: DumpCase) -> None:
    assert run_case(case) == case.expected


@pytest.mark.parametrize(
    ("line", "delta"),
    [
        ("13 minutes ago", timedelta(minutes=13)),
        ("an hour ago", timedelta(hours=1)),
        ("5h ago", timedelta(hours=5)),
        ("6 days ago", timedelta(days=6)),
        ("2 weeks ago", timedelta(weeks=2)),
        ("Yesterday", timedelta(days=1)),
        ("Just now", timedelta(0)),
        ("vor 3 Stunden", timedelta(hours=3)),
    ],
)
def test_relative_dates_are_resolved_against_the_fetch_time(line: str, delta: timedelta) -> None:
    result = clean_text(f"Harbour wall repairs approved\n{line}\n{PROSE}", fetched_at=FETCHED_AT)
    assert result.published_at == FETCHED_AT - delta
    assert result.paragraphs == [PROSE]


def test_months_ago_uses_calendar_months() -> None:
    result = clean_text(f"Harbour news today\n2 months ago\n{PROSE}", fetched_at=FETCHED_AT)
    assert result.published_at == datetime(2025, 1, 10, 15, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("line", "site"),
    [
        ("Forbes6 days ago", "Forbes"),
        ("The Daily Example · 6 days ago", "The Daily Example"),
        ("time6 days ago", None),
        ("Updated 6 days ago", None),
    ],
)
def test_publisher_is_recovered_from_the_source_line(line: str, site: str | None) -> None:
    result = clean_text(f"Harbour news today\n{line}\n{PROSE}", fetched_at=FETCHED_AT)
    assert result.site_name == site


def test_updated_line_sets_the_modification_time() -> None:
    result = clean_text(f"Harbour news today\nUpdated 2 hours ago\n{PROSE}", fetched_at=FETCHED_AT)
    assert result.modified_at == FETCHED_AT - timedelta(hours=2)
    assert result.published_at is None


def test_share_text_glued_to_a_paragraph_start_is_removed() -> None:
    glued = "World Europe National securityFacebookTweetLink Follow " + PROSE
    assert clean_text(f"Title of the story\n{glued}", fetched_at=FETCHED_AT).paragraphs == [PROSE]


def test_share_words_inside_a_sentence_are_kept() -> None:
    line = "The company said Facebook and Twitter both removed the posts within an hour of them."
    assert clean_text(f"Title of the story\n{line}", fetched_at=FETCHED_AT).paragraphs == [line]


def test_related_block_and_everything_after_it_is_cut() -> None:
    dump = f"Title of the story\n{PROSE}\nRelated Articles\n{PROSE.upper()}\nMore text."
    assert clean_text(dump, fetched_at=FETCHED_AT).paragraphs == [PROSE]


def test_a_terminator_word_before_the_article_does_not_cut_it() -> None:
    dump = f"Comments (4)\nTitle of the story\n{PROSE}"
    result = clean_text(dump, fetched_at=FETCHED_AT)
    assert result.title == "Title of the story"
    assert result.paragraphs == [PROSE]


def test_repeated_title_is_removed_and_taken_as_the_title() -> None:
    dump = f"News\nA ferry for the island\nA ferry for the island\n{PROSE}"
    result = clean_text(dump, fetched_at=FETCHED_AT)
    assert result.title == "A ferry for the island"
    assert result.paragraphs == [PROSE]


def test_first_line_is_the_title_when_it_is_not_prose() -> None:
    result = clean_text(f"A ferry for the island\n{PROSE}", fetched_at=FETCHED_AT)
    assert result.title == "A ferry for the island"


def test_no_title_when_the_dump_starts_with_prose() -> None:
    result = clean_text(f"{PROSE}\n{PROSE} Again.", fetched_at=FETCHED_AT)
    assert result.title is None
    assert result.paragraphs == [PROSE, f"{PROSE} Again."]


CHROME = [
    "logo", "Menu", "Share", "Advertisement", "Subscribe", "Sign in", "Back to top",
    "Company logo", "Accept all cookies", "Read more: Another story about the harbour",
    "Photo: A. Photographer / Agency", "Listen to this article", "5 min read",
]  # fmt: skip
WORDS = st.sampled_from(
    [
        "harbour", "council", "ferry", "island", "storm", "repair", "budget", "mayor", "vote",
        "bridge", "engine", "winter", "summer", "town", "river",
    ]
)  # fmt: skip
PARAGRAPH = st.lists(WORDS, min_size=12, max_size=40).map(lambda w: " ".join(w).capitalize() + ".")


@settings(max_examples=60, deadline=None)
@given(
    paragraphs=st.lists(PARAGRAPH, min_size=1, max_size=8),
    chrome=st.lists(st.sampled_from(CHROME), max_size=12),
    data=st.data(),
)
def test_article_paragraphs_survive_whole_and_in_order(
    paragraphs: list[str], chrome: list[str], data: st.DataObject
) -> None:
    lines = [*paragraphs]
    for line in chrome:  # chrome anywhere among the paragraphs
        lines.insert(data.draw(st.integers(0, len(lines))), line)
    dump = "\n".join(["Harbour news", *lines, "Related Articles", "Other story"])
    kept = clean_text(dump, fetched_at=FETCHED_AT).paragraphs
    # Consecutive equal paragraphs collapse into one (a widget printing twice).
    expected = [p for i, p in enumerate(paragraphs) if i == 0 or p != paragraphs[i - 1]]
    assert kept == expected


SEED = Path(__file__).resolve().parents[4] / "shared" / "seed" / "scraped-page-example.txt"


@pytest.mark.skipif(not SEED.exists(), reason="the design's seed page lives outside the repo")
def test_the_design_seed_page_is_reduced_to_its_article() -> None:
    fetched_at = datetime(2025, 8, 20, 12, 0, tzinfo=UTC)
    result = clean_text(SEED.read_text(encoding="utf-8"), fetched_at=fetched_at)
    assert result.title == "Belarus Announces Joint Military Exercise With Russia In September"
    assert result.site_name == "Forbes"
    assert result.published_at == fetched_at - timedelta(days=6)
    assert len(result.paragraphs) == 12
    assert result.paragraphs[0].startswith("The Belarusian Ministry of Defense announced")
    assert result.paragraphs[-1].endswith("precautions of a potential attack.")
    assert not any("Witkoff" in p or "Daily8" in p for p in result.paragraphs)
