"""The ScrapingHub article-extraction benchmark's scorer, as its README defines it.

Kept apart from the runner so tests and ad-hoc experiments score the same way.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["PageCounts", "Scores", "page_counts", "score"]

_TOKEN = re.compile(r"\w+")
# The benchmark's shingle length.
_SHINGLE = 4


@dataclass(frozen=True)
class PageCounts:
    """Shingle-overlap counts for one page (raw counts; ratios are scale-free)."""

    tp: int
    fp: int
    fn: int


@dataclass(frozen=True)
class Scores:
    """Benchmark precision, recall and F1 over a set of pages."""

    precision: float
    recall: float
    f1: float


def _shingles(text: str) -> Counter[str]:
    tokens = _TOKEN.findall(text or "")
    # A text shorter than one shingle is a single shingle (none if it is empty).
    count = max(1, len(tokens) - _SHINGLE + 1)
    return Counter(s for i in range(count) if (s := " ".join(tokens[i : i + _SHINGLE])))


def page_counts(gold: str, predicted: str) -> PageCounts:
    """Multiset overlap of the 4-token shingles of ``gold`` and ``predicted``."""
    g, p = _shingles(gold), _shingles(predicted)
    return PageCounts(tp=sum((g & p).values()), fp=sum((p - g).values()), fn=sum((g - p).values()))


def score(pages: Iterable[PageCounts]) -> Scores:
    """Mean per-page precision and recall, and the F1 of those two means."""
    pages = list(pages)
    precisions = [c.tp / (c.tp + c.fp) for c in pages if c.tp + c.fp > 0]
    recalls = [c.tp / (c.tp + c.fn) for c in pages if c.tp + c.fn > 0]
    p = statistics.mean(precisions) if precisions else 0.0
    r = statistics.mean(recalls) if recalls else 0.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    return Scores(precision=p, recall=r, f1=f1)
