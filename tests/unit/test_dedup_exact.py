"""Exact-duplicate decisions, replayed over plain dict tables."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from services.dedup.exact import text_key, text_verdict, url_verdict
from shared.models import CleanArticle, UniqueArticle


def _a(article_id: str, source: str, text: str) -> CleanArticle:
    return CleanArticle(
        id=article_id,
        source_id=source,
        url=f"http://{source}/{article_id}",
        canonical_url=f"http://{source}/{article_id}",
        fetched_at=datetime(2026, 5, 1, tzinfo=UTC),
        title="t",
        text=text,
    )


def _run(stream: list[CleanArticle]) -> list[UniqueArticle]:
    urls: dict[str, dict[str, Any]] = {}
    texts: dict[str, dict[str, Any]] = {}
    out = []
    for article in stream:
        uv = url_verdict(article, urls.get(article.id))
        if uv.state is not None:
            urls[article.id] = uv.state
        if not uv.check_text:
            continue
        key = text_key(article)
        tv = text_verdict(article, texts.get(key))
        texts[key] = tv.state
        out.append(tv.output)
    return out


def test_text_key_ignores_case_and_spacing_but_not_words() -> None:
    base = _a("x", "s", "Gates open on Friday.\n\nEngineers agree.")
    assert text_key(base) == text_key(_a("y", "s", "gates  OPEN on friday.  Engineers agree."))
    assert text_key(base) != text_key(_a("z", "s", "Gates open on Saturday. Engineers agree."))


def test_stream_of_copies() -> None:
    out = _run(
        [
            _a("a1", "wire", "Gates open."),
            _a("a2", "courier", "GATES   open."),
            _a("a1", "ledger", "Gates open."),
            _a("a1", "wire", "Gates open."),
            _a("b1", "wire", "Bakers share an oven."),
        ]
    )
    assert [(o.article.id, o.kind, o.duplicate_of, o.story_id) for o in out] == [
        ("a1", "unique", None, "a1"),
        ("a2", "exact", "a1", "a1"),
        ("a1", "exact", "a1", "a1"),
        ("b1", "unique", None, "b1"),
    ]


def test_redelivery_of_the_owner_is_unique_again_and_adds_no_source() -> None:
    first = text_verdict(_a("a1", "wire", "x"), None)
    again = text_verdict(_a("a1", "wire", "x"), first.state)
    assert again.output.kind == "unique" and again.state["sources"] == ["wire"]
