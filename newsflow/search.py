"""Full-text search over the read alias, as ``newsflow search`` prints it."""

from __future__ import annotations

from typing import Any

from elasticsearch import Elasticsearch

__all__ = ["build_query", "search"]

# Title matches count more than body matches: a headline states the story.
_FIELDS = ["title^3", "title.std^2", "text", "text.std", "description"]


def build_query(query: str, *, size: int = 10) -> dict[str, Any]:
    """The search request body for a free-text ``query``."""
    return {
        "size": size,
        "query": {"multi_match": {"query": query, "fields": _FIELDS, "type": "best_fields"}},
        "highlight": {
            "pre_tags": ["«"],
            "post_tags": ["»"],
            "fields": {
                "text": {"fragment_size": 160, "number_of_fragments": 1},
                "title": {"number_of_fragments": 0},
            },
        },
        "_source": ["id", "title", "url", "source", "site", "published_at", "story_id", "coverage"],
    }


def search(es: Elasticsearch, index: str, query: str, *, size: int = 10) -> dict[str, Any]:
    """Run ``query`` and return ``{"total", "hits": [...]}`` in the CLI's JSON shape."""
    response = es.search(index=index, **build_query(query, size=size))
    hits = []
    for hit in response["hits"]["hits"]:
        src = hit["_source"]
        highlight = hit.get("highlight", {})
        snippet = (highlight.get("text") or highlight.get("title") or [""])[0]
        hits.append(
            {
                "id": hit["_id"],
                "title": src.get("title"),
                "url": src.get("url"),
                "source": src.get("source"),
                "published_at": src.get("published_at"),
                "story_id": src.get("story_id"),
                "score": hit["_score"],
                "highlight": snippet,
                "coverage": src.get("coverage"),
            }
        )
    total = response["hits"]["total"]
    return {"total": total["value"] if isinstance(total, dict) else int(total), "hits": hits}
