"""bench.extraction.scoring follows the ScrapingHub benchmark's definition."""

from __future__ import annotations

import pytest

from bench.extraction.scoring import PageCounts, page_counts, score


def test_identical_texts_overlap_completely() -> None:
    text = "one two three four five six"
    assert page_counts(text, text) == PageCounts(tp=3, fp=0, fn=0)


def test_tokens_are_word_runs_with_case_kept() -> None:
    assert page_counts("One, two; three four!", "one two three four") == PageCounts(
        tp=0, fp=1, fn=1
    )
    assert page_counts("One, two; three four!", "One two three four") == PageCounts(
        tp=1, fp=0, fn=0
    )


def test_text_shorter_than_a_shingle_is_one_shingle() -> None:
    assert page_counts("a b", "a b") == PageCounts(tp=1, fp=0, fn=0)
    assert page_counts("a b", "a b c") == PageCounts(0, 1, 1)


def test_shingles_are_a_multiset() -> None:
    gold = "a b c d a b c d"  # shingles: abcd, bcda, cdab, dabc, abcd
    assert page_counts(gold, "a b c d") == PageCounts(tp=1, fp=0, fn=4)


def test_empty_prediction_counts_for_recall_only() -> None:
    scores = score([page_counts("a b c d e", ""), page_counts("a b c d e", "a b c d e")])
    assert scores.precision == 1.0  # the empty page has no prediction to be precise about
    assert scores.recall == 0.5
    assert scores.f1 == pytest.approx(2 * 1.0 * 0.5 / 1.5)


def test_f1_is_taken_of_the_mean_precision_and_recall() -> None:
    pages = [PageCounts(tp=1, fp=1, fn=0), PageCounts(tp=1, fp=0, fn=3)]
    scores = score(pages)
    assert scores.precision == pytest.approx((0.5 + 1.0) / 2)
    assert scores.recall == pytest.approx((1.0 + 0.25) / 2)
    assert scores.f1 == pytest.approx(2 * 0.75 * 0.625 / (0.75 + 0.625))
