"""The documents the indexer writes, against the template that must accept them."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from newsflow.paths import TEMPLATE_FILE
from services.indexer.bulk import FastNdjsonSerializer
from services.indexer.document import (
    CONTENT_FIELDS,
    content_update,
    coverage_targets,
    document,
    grown_coverage,
    id_problem,
    is_newer,
    is_placeholder,
    json_bytes,
    placeholder,
    replacing,
)
from shared.models import CleanArticle, UniqueArticle

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
INT_MAX = 2**31 - 1


def _article(**changes: Any) -> CleanArticle:
    fields: dict[str, Any] = {
        "id": "a1",
        "source_id": "lakeside",
        "url": "http://lakeside.test/ferries?utm=x",
        "canonical_url": "http://lakeside.test/ferries",
        "fetched_at": NOW,
        "title": "Battery ferries cross the lake",
        "text": "The first battery ferries entered service on Monday.",
        "authors": ["Ada Lovelace"],
        "published_at": NOW - timedelta(hours=2),
        "modified_at": NOW - timedelta(hours=1),
        "language": "en",
        "site_name": "Lakeside Wire",
        "description": "Ferries, now electric.",
        "image": "http://lakeside.test/ferry.jpg",
        "section": "Transport",
        "tags": ["Ferries", "Energy"],
        "word_count": 8,
        "extractor": "trafilatura",
        "extractor_version": "2.0.0",
        "flags": ["truncated-input"],
    }
    fields.update(changes)
    return CleanArticle(**fields)


def _unique(article: CleanArticle | None = None, **changes: Any) -> UniqueArticle:
    article = article or _article()
    fields: dict[str, Any] = {"kind": "unique", "article": article, "story_id": article.id}
    fields.update(changes)
    return UniqueArticle(**fields)


def _properties() -> dict[str, Any]:
    properties: dict[str, Any] = json.loads(TEMPLATE_FILE.read_text())["template"]["mappings"][
        "properties"
    ]
    return properties


def _assert_mapped(value: Any, spec: dict[str, Any], path: str) -> None:
    """``value`` fits the strict mapping ``spec`` (as Elasticsearch would parse it)."""
    if value is None:
        return
    if isinstance(value, list):
        for item in value:
            _assert_mapped(item, spec, path)
        return
    if isinstance(value, dict):
        assert "properties" in spec, f"{path} is an object but mapped as {spec.get('type')}"
        for key, item in value.items():
            assert key in spec["properties"], f"{path}.{key} is not mapped"
            _assert_mapped(item, spec["properties"][key], f"{path}.{key}")
        return
    kind = spec.get("type")
    if isinstance(value, bool):
        assert kind == "boolean", path
    elif isinstance(value, int):
        assert kind in {"integer", "long"}, path
        assert kind == "long" or -(2**31) <= value <= INT_MAX, path
    elif isinstance(value, float):
        assert kind in {"float", "double"}, path
    elif kind == "date":
        datetime.fromisoformat(value)
    else:
        assert kind in {"keyword", "text"}, f"{path}: {kind}"


@pytest.mark.parametrize(
    "message",
    [
        _unique(),
        _unique(_article(published_at=None, modified_at=None, description=None, image=None)),
        _unique(kind="near", story_id="a0", duplicate_of="a0", similarity=0.83),
    ],
)
def test_every_field_written_is_mapped_with_a_type_that_takes_it(message: UniqueArticle) -> None:
    doc = document(message, NOW)
    properties = _properties()
    for name, value in doc.items():
        assert name in properties, f"{name} is written but not mapped (dynamic: strict)"
        _assert_mapped(value, properties[name], name)


def test_an_explicit_update_writes_only_mapped_fields() -> None:
    update = content_update(document(_unique(), NOW), NOW)
    properties = _properties()
    assert set(update) <= set(properties)
    assert "coverage" not in update and "story_id" not in update


def test_document_of_an_article_without_a_date_is_dated_by_its_fetch() -> None:
    doc = document(_unique(_article(published_at=None)), NOW)
    assert doc["published_at"] == NOW.isoformat()
    assert doc["date_found"] is False


def test_the_story_lead_is_the_article_whose_id_is_the_story() -> None:
    assert document(_unique(), NOW)["story_lead"] is True
    near = _unique(kind="near", story_id="a0", duplicate_of="a0", similarity=0.9)
    assert document(near, NOW)["story_lead"] is False


def test_content_hash_follows_the_content_only() -> None:
    first = document(_unique(), NOW)
    refetched = document(_unique(_article(fetched_at=NOW + timedelta(hours=1))), NOW)
    retitled = document(_unique(_article(title="Battery ferries sail on")), NOW)
    other_story = document(_unique(story_id="zz"), NOW + timedelta(days=1))
    assert first["content_hash"] == refetched["content_hash"] == other_story["content_hash"]
    assert first["content_hash"] != retitled["content_hash"]
    assert set(CONTENT_FIELDS) <= set(first)


def test_a_change_replaces_the_stored_content_only_when_it_is_not_older() -> None:
    stored = document(_unique(), NOW)
    later = document(
        _unique(_article(title="Ferries, updated", fetched_at=NOW + timedelta(hours=1))), NOW
    )
    earlier = document(
        _unique(_article(title="Ferries, draft", fetched_at=NOW - timedelta(hours=1))), NOW
    )
    assert is_newer(later, stored)
    assert not is_newer(earlier, stored)
    assert not is_newer(stored, stored)
    # Documents written before content hashes existed are replaced once.
    assert is_newer(stored, {"fetched_at": stored["fetched_at"]})


def test_coverage_targets() -> None:
    assert coverage_targets(_unique()) == []
    near = _unique(kind="near", story_id="lead", duplicate_of="lead", similarity=0.9)
    assert coverage_targets(near) == ["lead"]
    copy_of_lead = _unique(
        _article(id="c1"), kind="exact", story_id="lead", duplicate_of="lead", similarity=1.0
    )
    assert coverage_targets(copy_of_lead) == ["lead"]
    copy_of_near = _unique(
        _article(id="c2"), kind="exact", story_id="lead", duplicate_of="n1", similarity=1.0
    )
    assert coverage_targets(copy_of_near) == ["n1", "lead"]
    # The same URL from another source: the article itself gains the source.
    same_url = _unique(_article(id="a1"), kind="exact", story_id="a1", duplicate_of="a1")
    assert coverage_targets(same_url) == ["a1"]


def test_coverage_grows_by_set_union_and_a_replay_changes_nothing() -> None:
    current = {"sources": ["a"], "count": 1}
    assert grown_coverage(current, ["b", "a"]) == {"sources": ["a", "b"], "count": 2}
    assert grown_coverage({"sources": ["a", "b"], "count": 2}, ["b"]) is None
    assert grown_coverage(None, ["c"]) == {"sources": ["c"], "count": 1}


def test_ids_elasticsearch_refuses_are_found_before_any_request() -> None:
    assert id_problem(_unique()) is None
    long_id = _article(id="x" * 513)
    assert "513 bytes" in (id_problem(_unique(long_id)) or "")
    assert id_problem(_unique(story_id="é" * 300)) is not None


def test_a_placeholder_holds_coverage_until_its_article_replaces_it() -> None:
    stub = placeholder("lead", "lead", ["harbour", "riverside", "harbour"])
    assert stub["coverage"] == {"sources": ["harbour", "riverside"], "count": 2}
    assert is_placeholder(stub) and stub["story_lead"] is True
    assert not is_placeholder(document(_unique(), NOW))
    properties = _properties()
    for name, value in stub.items():
        _assert_mapped(value, properties[name], name)
    # No title, text or date: searches cannot match it, time filters leave it out.
    assert {"title", "text", "published_at"}.isdisjoint(stub)
    lead = document(_unique(_article(id="lead", source_id="lakeside")), NOW)
    replaced = replacing(lead, stub)
    assert replaced["coverage"] == {"sources": ["harbour", "lakeside", "riverside"], "count": 3}
    assert replaced["title"] == lead["title"] and replaced["kind"] == "unique"
    member = placeholder("n1", "lead", ["riverside"])
    assert member["story_lead"] is False and member["story_id"] == "lead"


def test_bulk_bodies_survive_integers_orjson_refuses() -> None:
    # Such a document must reach Elasticsearch, which refuses it alone,
    # instead of failing the serialisation of its whole batch.
    body = [{"create": {"_id": "a"}}, {"word_count": 2**70}]
    assert FastNdjsonSerializer().dumps(body) == (
        b'{"create":{"_id":"a"}}\n{"word_count":' + str(2**70).encode() + b"}\n"
    )
    assert json_bytes({"t": "Café"}) == '{"t":"Café"}'.encode()
