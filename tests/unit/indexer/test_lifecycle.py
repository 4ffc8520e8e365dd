"""Rollover, dead-letter copies and the templates agree with each other."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from newsflow.infra import (
    DEADLETTER_TEMPLATE_FILE,
    deadletter_template_body,
    ilm_policy_body,
    mapped_fields,
    template_body,
)
from services.indexer.app import split_by_size
from services.indexer.deadletters import Letter, deadletter_document
from services.indexer.settings import IndexerSettings
from shared.models import DeadLetter
from shared.settings import CommonSettings


def test_local_rollover_uses_the_conditions_of_the_ilm_policy() -> None:
    rollover = ilm_policy_body()["phases"]["hot"]["actions"]["rollover"]
    settings = IndexerSettings(common=CommonSettings())
    assert rollover == {
        "max_age": settings.rollover_max_age,
        "max_primary_shard_size": settings.rollover_max_primary_shard_size,
        "max_docs": settings.rollover_max_docs,
    }


def test_templates_join_the_read_alias_and_use_ilm_only_where_asked() -> None:
    common = CommonSettings(index_prefix="t1")
    plain = template_body(common)
    assert plain["index_patterns"] == ["t1-articles-*"]
    assert plain["template"]["aliases"] == {"t1-articles": {}}
    assert "index.lifecycle.name" not in plain["template"]["settings"]
    managed = template_body(common, lifecycle=True)["template"]["settings"]
    assert managed["index.lifecycle.name"] == "t1-articles"
    assert managed["index.lifecycle.rollover_alias"] == "t1-articles-write"
    assert "_comment" not in plain
    assert deadletter_template_body(common)["index_patterns"] == ["t1-deadletters"]


def test_dead_letter_copies_fit_their_template() -> None:
    letter = DeadLetter(
        stage="indexer",
        reason="es-document_parsing_exception",
        error="failed to parse field [word_count]",
        topic="news.unique",
        partition=3,
        offset=41,
        key="a1",
        original="aGVsbG8=",
        at=datetime(2026, 11, 25, tzinfo=UTC),
    )
    doc = deadletter_document(Letter(letter, "news.deadletter", 1, 7))
    mapping = json.loads(DEADLETTER_TEMPLATE_FILE.read_text())["template"]["mappings"]
    assert set(doc) == set(mapped_fields(mapping)) - {"error.raw"}
    assert doc["original_bytes"] == len(b"hello")
    assert Letter(letter, "news.deadletter", 1, 7).doc_id == "news.deadletter:1:7"


def test_batches_are_cut_by_bytes_in_order() -> None:
    items = ["a", "b", "c", "d", "e"]
    assert split_by_size(items, [3, 3, 3, 9, 1], 6) == [["a", "b"], ["c"], ["d"], ["e"]]
    assert split_by_size([], [], 10) == []
