"""What the indexer writes: documents, explicit updates and coverage, as pure functions.

Every field written here is mapped in ``infra/elasticsearch/template.json``
(dynamic: strict); ``tests/unit/indexer`` holds the two together.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import orjson

from shared.models import UniqueArticle

__all__ = [
    "CONTENT_FIELDS",
    "MAX_ID_BYTES",
    "content_update",
    "coverage_targets",
    "document",
    "grown_coverage",
    "id_problem",
    "is_newer",
    "is_placeholder",
    "json_bytes",
    "placeholder",
    "replacing",
]

# The ``kind`` of a document that holds only coverage, for an article not
# indexed yet (see :func:`placeholder`).
PLACEHOLDER_KIND = "pending"

# Elasticsearch refuses longer ids, and refuses them for the whole bulk
# request, not per item: such a message must never reach a request.
MAX_ID_BYTES = 512

# The fields a re-extraction may change, so an explicit update rewrites them.
# Not among them: the story fields (the story an article joined at first
# sight is the one its coverage was counted in) and coverage itself, which
# only coverage updates change.
CONTENT_FIELDS = (
    "url",
    "canonical_url",
    "source",
    "site",
    "title",
    "text",
    "description",
    "authors",
    "tags",
    "section",
    "language",
    "image",
    "published_at",
    "date_found",
    "modified_at",
    "word_count",
    "extractor",
    "extractor_version",
    "flags",
)


def document(message: UniqueArticle, indexed_at: datetime) -> dict[str, Any]:
    """The Elasticsearch document for an article that dedup let through."""
    a = message.article
    doc: dict[str, Any] = {
        "id": a.id,
        "url": a.url,
        "canonical_url": a.canonical_url,
        "source": a.source_id,
        "site": a.site_name,
        "title": a.title,
        "text": a.text,
        "description": a.description,
        "authors": a.authors,
        "tags": a.tags,
        "section": a.section,
        "language": a.language,
        "image": a.image,
        # Kibana's time field: an article without a date is dated by its fetch.
        "published_at": (a.published_at or a.fetched_at).isoformat(),
        "date_found": a.published_at is not None,
        "modified_at": a.modified_at.isoformat() if a.modified_at else None,
        "word_count": a.word_count,
        "extractor": a.extractor,
        "extractor_version": a.extractor_version,
        "flags": a.flags,
        "fetched_at": a.fetched_at.isoformat(),
        "indexed_at": indexed_at.isoformat(),
        "kind": message.kind,
        "story_id": message.story_id,
        # The document a one-row-per-story view shows: it carries the story's coverage.
        "story_lead": message.story_id == a.id,
        "duplicate_of": message.duplicate_of,
        "similarity": message.similarity,
        "coverage": {"sources": [a.source_id], "count": 1},
    }
    doc["content_hash"] = _content_hash(doc)
    return doc


def _content_hash(doc: dict[str, Any]) -> str:
    encoded = json_bytes([doc[name] for name in CONTENT_FIELDS])
    return hashlib.blake2b(encoded, digest_size=16).hexdigest()


def json_bytes(value: Any) -> bytes:
    """``value`` as compact JSON, with orjson (several times faster than ``json``).

    orjson refuses integers beyond 64 bits; those fall back to ``json``, so a
    document with one reaches Elasticsearch and is refused there, alone,
    instead of failing its whole batch here.
    """
    try:
        return orjson.dumps(value)
    except TypeError:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def content_update(doc: dict[str, Any], updated_at: datetime) -> dict[str, Any]:
    """The partial document that rewrites an indexed article's content with ``doc``'s."""
    update = {name: doc[name] for name in CONTENT_FIELDS}
    update["fetched_at"] = doc["fetched_at"]
    update["content_hash"] = doc["content_hash"]
    update["updated_at"] = updated_at.isoformat()
    return update


def is_newer(doc: dict[str, Any], stored: dict[str, Any]) -> bool:
    """Whether ``doc`` should replace the content of the ``stored`` document.

    Only a different content fetched no earlier than the stored one does: a
    redelivery changes nothing, and an old version replayed after a newer one
    does not win.
    """
    if doc["content_hash"] == stored.get("content_hash"):
        return False
    stored_fetch = stored.get("fetched_at")
    if stored_fetch is None:
        return True
    return datetime.fromisoformat(doc["fetched_at"]) >= datetime.fromisoformat(stored_fetch)


def coverage_targets(message: UniqueArticle) -> list[str]:
    """The ids of the documents whose coverage gains ``message``'s source.

    An exact copy counts for the article it copies and for the story's lead
    (the two differ when it copies a near duplicate); a near duplicate, which
    has a document of its own, counts for its story's lead.
    """
    own = message.article.id
    if message.kind == "exact":
        candidates = [message.duplicate_of, message.story_id]
    elif message.kind == "near":
        candidates = [message.story_id]
    else:
        return []
    targets: list[str] = []
    for target in candidates:
        if target and target != own and target not in targets:
            targets.append(target)
    if message.kind == "exact" and message.duplicate_of == own:
        # The same URL from one more source: the article's own coverage grows.
        targets.insert(0, own)
    return targets


def placeholder(target: str, story_id: str, sources: Iterable[str]) -> dict[str, Any]:
    """A document that holds the coverage of ``target`` until ``target`` itself arrives.

    Copies and near duplicates may be indexed before the article they count
    for (they travel other partitions). Waiting for it would stall the batch,
    and with it the partition that brings it; so their coverage goes into a
    placeholder that the article replaces when it comes, keeping the
    coverage. It has no title, text or date: searches do not match it and
    time-filtered views leave it out.
    """
    union = sorted(set(sources))
    return {
        "id": target,
        "kind": PLACEHOLDER_KIND,
        "story_id": story_id,
        "story_lead": target == story_id,
        "coverage": {"sources": union, "count": len(union)},
    }


def is_placeholder(stored: dict[str, Any]) -> bool:
    """Whether a stored document (its ``_source``) is a :func:`placeholder`."""
    return stored.get("kind") == PLACEHOLDER_KIND


def replacing(doc: dict[str, Any], stored: dict[str, Any]) -> dict[str, Any]:
    """``doc`` as it replaces the placeholder ``stored``: with the coverage counted so far."""
    grown = grown_coverage(stored.get("coverage"), doc["coverage"]["sources"])
    return {**doc, "coverage": grown or stored["coverage"]}


def grown_coverage(current: dict[str, Any] | None, sources: Iterable[str]) -> dict[str, Any] | None:
    """``current`` coverage with ``sources`` added, or None if they were all counted already."""
    known = set((current or {}).get("sources") or [])
    union = known | set(sources)
    if union == known:
        return None
    return {"sources": sorted(union), "count": len(union)}


def id_problem(message: UniqueArticle) -> str | None:
    """Why ``message`` names an id that can never be a document id, if it does."""
    for field, value in (
        ("article id", message.article.id),
        ("story_id", message.story_id),
        ("duplicate_of", message.duplicate_of),
    ):
        if value is None:
            continue
        size = len(value.encode("utf-8"))
        if size == 0 or size > MAX_ID_BYTES:
            return f"{field} is {size} bytes; Elasticsearch takes 1 to {MAX_ID_BYTES}"
    return None
