"""Measure dedup on the generated stream, against datasketch's MinHashLSH in the same run.

``python -m bench.dedup.run [--seed 7] [--scale 1] [--speed-scale 4]``

Prints, for our decision function (``services.dedup.decide``, through
``InMemoryDeduper``) and for the baseline (datasketch ``MinHashLSH(threshold=0.5,
num_perm=128)`` over word 3-shingles, a document joining the story of its most
similar candidate):

- pairwise precision, recall and F1 over story clusters;
- recall by kind of change (a copy counts when it lands in its original's story);
- the false-merge rate of hard negatives (a hard negative whose predicted story
  holds an article of another true story), overall and by kind;
- docs/s for one worker (CPU time of this process, so other load on the
  machine does not skew it), fingerprinting and lookup included, on the
  evaluation stream and on a larger stream (``--speed-scale``) with more state.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
import tracemalloc
import types
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bench.dedup.generate import Doc, generate


def _ensure_fold_for_hash() -> None:
    """Stand in for ``shared.text`` while it is being written (bench only)."""
    try:
        import shared.text  # noqa: F401
    except ImportError:
        fallback = types.ModuleType("shared.text")

        def fold_for_hash(text: str) -> str:
            return " ".join(unicodedata.normalize("NFKC", text).casefold().split())

        fallback.fold_for_hash = fold_for_hash  # type: ignore[attr-defined]
        sys.modules["shared.text"] = fallback
        print("note: shared.text missing, using a local fold_for_hash stand-in")


_ensure_fold_for_hash()

from services.dedup.decide import Article  # noqa: E402
from services.dedup.resolve import InMemoryDeduper  # noqa: E402

Predict = Callable[[Sequence[Doc]], dict[str, str]]


# --- the two methods ---------------------------------------------------------------


def ours(docs: Sequence[Doc]) -> dict[str, str]:
    """Story id per document, from ``InMemoryDeduper`` in arrival order."""
    deduper = InMemoryDeduper()
    stories = {}
    for doc in docs:
        article = Article(doc.id, doc.url, doc.title, doc.text, doc.source, doc.seen_at)
        stories[doc.id] = deduper.process(article).story_id
    return stories


def ours_kinds(docs: Sequence[Doc]) -> dict[str, str]:
    deduper = InMemoryDeduper()
    return {
        doc.id: deduper.process(
            Article(doc.id, doc.url, doc.title, doc.text, doc.source, doc.seen_at)
        ).kind
        for doc in docs
    }


_WORD = re.compile(r"\w+")


def baseline(docs: Sequence[Doc]) -> dict[str, str]:
    """datasketch MinHashLSH(threshold=0.5, num_perm=128) over word 3-shingles."""
    from datasketch import MinHash, MinHashLSH

    lsh = MinHashLSH(threshold=0.5, num_perm=128)
    signatures: dict[str, MinHash] = {}
    stories: dict[str, str] = {}
    for doc in docs:
        words = _WORD.findall(doc.text.casefold())
        shingles = {" ".join(words[i : i + 3]) for i in range(max(len(words) - 2, 1))}
        signature = MinHash(num_perm=128)
        signature.update_batch([s.encode("utf-8") for s in shingles])
        candidates = lsh.query(signature)
        if candidates:
            best = max(candidates, key=lambda c: (signature.jaccard(signatures[c]), c))
            stories[doc.id] = stories[best]
        else:
            stories[doc.id] = doc.id
        lsh.insert(doc.id, signature)
        signatures[doc.id] = signature
    return stories


# --- scoring -----------------------------------------------------------------------


@dataclass(frozen=True)
class Report:
    precision: float
    recall: float
    f1: float
    recall_by_change: dict[str, tuple[int, int]]
    false_merges: dict[str, tuple[int, int]]
    docs_per_s: float


def _pairs(labels: Counter[object]) -> int:
    return sum(n * (n - 1) // 2 for n in labels.values())


def score(docs: Sequence[Doc], predicted: dict[str, str], seconds: float) -> Report:
    """Pairwise and per-kind scores of ``predicted`` story ids against the truth."""
    truth = {d.id: d.story for d in docs}
    together = _pairs(Counter((truth[d.id], predicted[d.id]) for d in docs))
    true_pairs = _pairs(Counter(truth.values()))
    predicted_pairs = _pairs(Counter(predicted.values()))
    precision = together / predicted_pairs if predicted_pairs else 1.0
    recall = together / true_pairs if true_pairs else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0

    by_change: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for d in docs:
        if d.role == "variant" and d.original is not None:
            hit = int(predicted[d.id] == predicted[d.original])
            for key in {d.change, *(f"any {c}" for c in d.change.split("+"))}:
                by_change[key][0] += hit
                by_change[key][1] += 1

    stories_in: dict[str, set[str]] = defaultdict(set)
    for d in docs:
        stories_in[predicted[d.id]].add(d.story)
    merges: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for d in docs:
        if d.role == "hard":
            merged = int(len(stories_in[predicted[d.id]]) > 1)
            for key in (d.change, "all hard negatives"):
                merges[key][0] += merged
                merges[key][1] += 1
    return Report(
        precision,
        recall,
        f1,
        {k: (v[0], v[1]) for k, v in by_change.items()},
        {k: (v[0], v[1]) for k, v in merges.items()},
        len(docs) / seconds,
    )


def _timed(method: Predict, docs: Sequence[Doc]) -> tuple[dict[str, str], float]:
    """Predictions and the CPU seconds this process spent on them: what one
    worker with a core of its own would take, however busy the machine is."""
    start = time.process_time()
    predicted = method(docs)
    return predicted, time.process_time() - start


def _rate(pair: tuple[int, int]) -> str:
    hits, total = pair
    return f"{hits / total:6.3f} ({hits}/{total})" if total else "     -"


def _print(docs: Sequence[Doc], reports: dict[str, Report]) -> None:
    names = list(reports)
    roles = Counter(d.role for d in docs)
    print(
        f"stream: {len(docs)} docs, {len({d.story for d in docs})} stories, "
        f"{roles['variant']} copies, {roles['hard']} hard negatives"
    )
    print(f"{'':32}" + "".join(f"{n:>22}" for n in names))
    for label, field in (
        ("pairwise precision", "precision"),
        ("pairwise recall", "recall"),
        ("pairwise F1", "f1"),
        ("docs/s (one worker)", "docs_per_s"),
    ):
        print(f"{label:32}" + "".join(f"{getattr(reports[n], field):>22.4f}" for n in names))
    print("\nrecall by change (copy lands in its original's story)")
    keys = sorted(reports[names[0]].recall_by_change, key=lambda k: (not k.startswith("any"), k))
    for key in keys:
        print(
            f"  {key:30}" + "".join(f"{_rate(reports[n].recall_by_change[key]):>22}" for n in names)
        )
    print("\nfalse merges of hard negatives (lower is better)")
    for key in sorted(reports[names[0]].false_merges):
        print(f"  {key:30}" + "".join(f"{_rate(reports[n].false_merges[key]):>22}" for n in names))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument(
        "--speed-scale",
        type=float,
        default=4.0,
        help="size of the larger stream used only for docs/s (0: skip)",
    )
    args = parser.parse_args()

    docs = generate(args.seed, args.scale)
    reports = {}
    for name, method in (("ours", ours), ("datasketch baseline", baseline)):
        predicted, seconds = _timed(method, docs)
        reports[name] = score(docs, predicted, seconds)
    _print(docs, reports)

    kinds = ours_kinds(docs)
    by_id = {d.id: d for d in docs}
    exact_pairs = [
        (d, by_id[d.original]) for d in docs if d.change == "exact" and d.original is not None
    ]
    later = [
        copy if copy.seen_at >= original.seen_at else original for copy, original in exact_pairs
    ]
    flagged = sum(kinds[d.id] == "exact" for d in later)
    print(f"\nexact copies: the later of the pair decided 'exact': {flagged}/{len(later)}")

    if args.speed_scale > 0:
        big = generate(args.seed + 1, args.speed_scale)
        print(f"\nthroughput on a larger stream ({len(big)} docs, state kept in memory):")
        for name, method in (("ours", ours), ("datasketch baseline", baseline)):
            _, seconds = _timed(method, big)
            print(f"  {name:30}{len(big) / seconds:>10.0f} docs/s")
        print(f"  state: {_state_bytes(big) / len(big) / 1024:.1f} KiB per article (ours)")
    load = os.getloadavg()[0]
    print(f"\nload average during the run: {load:.2f} on {os.cpu_count()} CPUs")


def _state_bytes(docs: Sequence[Doc]) -> int:
    """Memory the InMemoryDeduper's dict holds after ``docs`` (traced allocations)."""
    tracemalloc.start()
    deduper = InMemoryDeduper()
    for doc in docs:
        deduper.process(Article(doc.id, doc.url, doc.title, doc.text, doc.source, doc.seen_at))
    held, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return held


if __name__ == "__main__":
    main()
