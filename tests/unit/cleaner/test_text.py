"""shared.text: the canonical form of article text and the exact-duplicate key."""

# Typographic quotes, dashes and spaces are the point of these tests.
# ruff: noqa: RUF001

from __future__ import annotations

import random
import re
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.text import fold_for_hash, join_paragraphs, normalise, split_paragraphs, word_count


def test_composes_to_nfc() -> None:
    decomposed = "Cafe\u0301 cre\u0300me"
    assert normalise(decomposed) == "Café crème"
    assert unicodedata.is_normalized("NFC", normalise(decomposed))


def test_decodes_html_entities() -> None:
    assert normalise("Tom &amp; Jerry &#8211; &quot;friends&quot; &eacute;t&eacute;") == (
        'Tom & Jerry – "friends" été'
    )


@pytest.mark.parametrize(
    "invisible", ["\u00ad", "\u200b", "\u2060", "\ufeff", "&shy;", "&#8203;", "&#xAD;"]
)
def test_removes_soft_hyphens_and_zero_width_characters(invisible: str) -> None:
    assert normalise(f"extra{invisible}ordinary") == "extraordinary"


def test_keeps_joiners_that_shape_words() -> None:
    # ZWNJ is spelling in Persian; removing it would change the word.
    assert normalise("می\u200cخواهم") == "می\u200cخواهم"


def test_keeps_typographic_quotes_dashes_and_ellipses() -> None:
    text = "“Quoted” and ‘single’ — it’s «French» … „German“"
    assert normalise(text) == text


def test_collapses_whitespace_within_lines() -> None:
    assert normalise("  one\t\ttwo\u00a0\u2009three   \n four  ") == "one two three\nfour"


def test_separates_paragraphs_by_exactly_one_blank_line() -> None:
    text = "first\r\n\r\n\r\n\r\nsecond\n \n\t\nthird\u2029fourth"
    assert normalise(text) == "first\n\nsecond\n\nthird\n\nfourth"


def test_keeps_single_line_breaks_inside_a_paragraph() -> None:
    assert normalise("line one\nline two\n\nnext") == "line one\nline two\n\nnext"


def test_strips_leading_and_trailing_blank_lines_and_controls() -> None:
    assert normalise("\n\n\x00\x07 text\x1b here \n\n") == "text here"


def test_empty_and_blank_text_normalise_to_empty() -> None:
    assert normalise("") == ""
    assert normalise(" \n\n \t") == ""


@given(st.text())
def test_normalise_output_is_in_canonical_form(text: str) -> None:
    out = normalise(text)
    assert out == out.strip()
    assert "\n\n\n" not in out
    assert "\r" not in out and "\u00ad" not in out and "\u200b" not in out
    assert all(line == line.strip() and "  " not in line for line in out.split("\n"))
    assert unicodedata.is_normalized("NFC", out)


@given(st.text(alphabet=st.characters(blacklist_characters="&")))
def test_normalise_is_idempotent_without_entities(text: str) -> None:
    once = normalise(text)
    assert normalise(once) == once


def test_fold_for_hash_ignores_case_spacing_paragraphs_and_entities() -> None:
    a = "The  Mayor said &quot;no&quot;.\n\nThe end."
    b = 'the mayor SAID "no". the\u00a0end.'
    assert fold_for_hash(a) == fold_for_hash(b) == 'the mayor said "no". the end.'


def test_fold_for_hash_drops_joiners_and_soft_hyphens() -> None:
    assert fold_for_hash("co\u00adop\u200dera\u200ction") == "cooperation"


def test_fold_for_hash_tells_different_texts_apart() -> None:
    assert fold_for_hash("The mayor said no.") != fold_for_hash("The mayor said yes.")


def test_fold_for_hash_casefolds_beyond_lowercase() -> None:
    assert fold_for_hash("STRASSE") == fold_for_hash("straße")


def test_split_and_join_paragraphs_round_trip() -> None:
    text = "one\n\ntwo\nstill two\n\nthree"
    assert split_paragraphs(text) == ["one", "two\nstill two", "three"]
    assert join_paragraphs(split_paragraphs(text)) == text


def test_join_paragraphs_skips_empty_ones_and_keeps_entities_literal() -> None:
    assert join_paragraphs(["a &amp; b", "", "c"]) == "a &amp; b\n\nc"


def test_word_count_counts_whitespace_separated_words() -> None:
    assert word_count("one two\n\nthree, four") == 4
    assert word_count("") == 0


def test_fold_for_hash_equals_normalise_then_fold() -> None:
    """fold_for_hash skips normalise's layout steps; the key must not change."""
    spaces = [chr(c) for c in range(0x3000 + 1) if chr(c).isspace()]
    pool = [
        *spaces,
        *"aZß\u00e9e\u0301\u0130",
        "\u00ad", "\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u180e",
        "\x00", "\x07", "\x1c", "\x1f", "\x7f", "\x84", "\x85", "\x86", "\x9f",
        "\r\n", "\u2028", "\u2029", "&amp;", "&#8203;", "&shy;", "&nbsp;", "&",
    ]  # fmt: skip
    rng = random.Random(5)
    for _ in range(3000):
        text = "".join(rng.choice(pool) for _ in range(rng.randint(0, 12)))
        reference = re.sub(r"\s+", " ", re.sub("[\u200c\u200d]", "", normalise(text).casefold()))
        assert fold_for_hash(text) == reference.strip(), repr(text)
