"""Preparing a batch ahead of its write: full validation, documents built and encoded once."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

import pytest
from faust.types import EventT

from services.indexer import app
from services.indexer.app import prepare_batch
from services.indexer.bulk import Prepared, prepare
from services.indexer.document import document
from shared import codec
from shared.models import CleanArticle, UniqueArticle

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@dataclass
class _Event:
    value: bytes | None


def _message(n: int, kind: str = "unique", **changes: Any) -> UniqueArticle:
    article = CleanArticle(
        id=f"a{n}",
        source_id="lakeside",
        url=f"http://lakeside.test/{n}",
        canonical_url=f"http://lakeside.test/{n}",
        fetched_at=NOW,
        title="Battery ferries",
        text="The first battery ferries entered service.",
    )
    fields: dict[str, Any] = {"kind": kind, "article": article, "story_id": f"a{n}"}
    if kind == "exact":
        fields.update(duplicate_of="a0", story_id="a0", similarity=1.0)
    fields.update(changes)
    return UniqueArticle(**fields)


def _events(*values: bytes | None) -> list[EventT[Any]]:
    return [cast(EventT[Any], _Event(v)) for v in values]


def test_invalid_messages_become_poison_and_the_rest_is_prepared_in_order() -> None:
    good = [codec.encode(_message(n)) for n in range(3)]
    wrong_version = json.loads(good[0])
    wrong_version["schema_version"] = 99
    # A message that is valid JSON with a field of the wrong type is poison too:
    # nothing skips the full validation.
    bad_field = json.loads(good[1])
    bad_field["article"]["word_count"] = "many"
    events = _events(
        good[0],
        b"{not json",
        good[1],
        None,
        json.dumps(wrong_version).encode(),
        json.dumps(bad_field).encode(),
        good[2],
    )
    batch = prepare_batch(events, NOW)
    assert [p.message.article.id for _, p in batch.articles] == ["a0", "a1", "a2"]
    assert [e for e, _ in batch.articles] == [events[0], events[2], events[6]]
    assert [e for e, _ in batch.poison] == [events[1], events[3], events[4], events[5]]
    assert [exc.reason for _, exc in batch.poison] == [
        "invalid-message",
        "invalid-message",
        "unsupported-schema",
        "invalid-message",
    ]


def test_a_prepared_article_carries_its_document_encoded() -> None:
    message = _message(1)
    prepared = prepare(message, NOW)
    assert prepared.doc == document(message, NOW)
    assert json.loads(prepared.source) == prepared.doc


def test_exact_copies_and_bad_ids_create_no_document() -> None:
    assert prepare(_message(1, "exact"), NOW).doc is None
    too_long = _message(1, story_id="s" * 600)
    prepared = prepare(too_long, NOW)
    assert prepared.doc is None and prepared.source == b""


def test_a_document_that_cannot_be_built_is_poison_not_a_stuck_batch(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(message: UniqueArticle, now: datetime) -> Prepared:
        if message.article.id == "a1":
            raise UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates not allowed")
        return prepare(message, now)

    monkeypatch.setattr(app, "prepare", broken)
    events = _events(*(codec.encode(_message(n)) for n in range(3)))
    batch = app.prepare_batch(events, NOW)
    assert [p.message.article.id for _, p in batch.articles] == ["a0", "a2"]
    assert [(e, exc.reason) for e, exc in batch.poison] == [(events[1], "unindexable")]
