"""Full-text search over the read alias, as ``newsflow search`` prints it.

Ranking: the words may match the title, the description or the text (with
English stemming, and as written through the ``std`` sub-fields); a title
match counts most, the words as a phrase count extra, and a recent article
scores up to twice as much as an old one with the same match.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from elasticsearch import Elasticsearch

__all__ = ["Filters", "build_query", "parse_since", "search"]

# A headline states the story: title matches count most.
_FIELDS = ["title^3", "title.std^2", "description^1.5", "description.std", "text", "text.std"]

# One or two words must all match; of longer queries three in four, so a
# stray word does not empty the result.
_MINIMUM_SHOULD_MATCH = "2<75%"

# Recency: an article from the last 12 hours keeps its full boost (x2), one
# three and a half days old half of it (x1.5); the floor is x1, so an old
# article that matches much better still wins.
_RECENCY = {"origin": "now", "offset": "12h", "scale": "3d", "decay": 0.5}

_SOURCE_FIELDS = [
    "id",
    "title",
    "url",
    "source",
    "site",
    "language",
    "published_at",
    "story_id",
    "coverage",
]

_SINCE = re.compile(r"^(\d+)([smhdw])$")


@dataclass(frozen=True)
class Filters:
    """Restrictions of a search; empty ones restrict nothing."""

    since: str | None = None
    sources: tuple[str, ...] = ()
    language: str | None = None

    def clauses(self) -> list[dict[str, Any]]:
        """The filter clauses of the query."""
        clauses: list[dict[str, Any]] = []
        if self.since:
            clauses.append({"range": {"published_at": {"gte": parse_since(self.since)}}})
        if self.sources:
            clauses.append({"terms": {"source": list(self.sources)}})
        if self.language:
            clauses.append({"term": {"language": self.language}})
        return clauses


def parse_since(age: str) -> str:
    """Elasticsearch date math for "the last ``age``" (``30m``, ``24h``, ``7d``, ``2w``).

    Raises ValueError for anything else.
    """
    match = _SINCE.match(age.strip())
    if not match or int(match.group(1)) == 0:
        raise ValueError(f"not an age like 30m, 24h, 7d or 2w: {age!r}")
    return f"now-{match.group(1)}{match.group(2)}"


def build_query(
    query: str, *, size: int = 10, filters: Filters = Filters(), one_per_story: bool = False
) -> dict[str, Any]:
    """The search request body for a free-text ``query``."""
    matching: dict[str, Any] = {
        "bool": {
            "must": [
                {
                    "multi_match": {
                        "query": query,
                        "fields": _FIELDS,
                        "type": "best_fields",
                        "tie_breaker": 0.3,
                        "minimum_should_match": _MINIMUM_SHOULD_MATCH,
                    }
                }
            ],
            "should": [
                {"match_phrase": {"title": {"query": query, "slop": 1, "boost": 4}}},
                {"match_phrase": {"text": {"query": query, "slop": 3, "boost": 2}}},
            ],
            "filter": filters.clauses(),
        }
    }
    body: dict[str, Any] = {
        "size": size,
        "track_total_hits": True,
        "query": {
            "function_score": {
                "query": matching,
                "functions": [{"gauss": {"published_at": _RECENCY}, "weight": 1}, {"weight": 1}],
                "score_mode": "sum",
                "boost_mode": "multiply",
            }
        },
        "highlight": {
            "pre_tags": ["«"],
            "post_tags": ["»"],
            "fields": {
                "title": {"number_of_fragments": 0},
                # A hit that matched only in its title still gets a snippet.
                "text": {"fragment_size": 160, "number_of_fragments": 1, "no_match_size": 160},
            },
        },
        "_source": _SOURCE_FIELDS,
    }
    if one_per_story:
        # The best-scoring article of each story stands for it.
        body["collapse"] = {"field": "story_id"}
        body["aggs"] = {"stories": {"cardinality": {"field": "story_id"}}}
    return body


def search(
    es: Elasticsearch,
    index: str,
    query: str,
    *,
    size: int = 10,
    filters: Filters = Filters(),
    one_per_story: bool = False,
) -> dict[str, Any]:
    """Run ``query``; return ``{"total", "hits": [...]}`` in the CLI's JSON shape.

    ``total`` counts matching articles; with ``one_per_story`` the result
    also has ``stories`` (their number, exact up to a few thousand) and no two
    hits share a ``story_id``. Each hit's ``coverage`` is its story's: the
    sources that carried it and how many they are.
    """
    body = build_query(query, size=size, filters=filters, one_per_story=one_per_story)
    response = es.search(index=index, **body)
    hits = [_hit(h) for h in response["hits"]["hits"]]
    _add_story_coverage(es, index, hits)
    total = response["hits"]["total"]
    result: dict[str, Any] = {
        "total": total["value"] if isinstance(total, dict) else int(total),
        "hits": hits,
    }
    if one_per_story:
        result["stories"] = int(response["aggregations"]["stories"]["value"])
    return result


def _hit(hit: dict[str, Any]) -> dict[str, Any]:
    src = hit["_source"]
    highlight = hit.get("highlight", {})
    return {
        "id": hit["_id"],
        "title": src.get("title"),
        "url": src.get("url"),
        "source": src.get("source"),
        "site": src.get("site"),
        "language": src.get("language"),
        "published_at": src.get("published_at"),
        "story_id": src.get("story_id"),
        "score": hit["_score"],
        "highlight": (highlight.get("text") or [""])[0],
        "title_highlight": (highlight.get("title") or [src.get("title") or ""])[0],
        "coverage": src.get("coverage") or {"sources": [src.get("source")], "count": 1},
    }


def _add_story_coverage(es: Elasticsearch, index: str, hits: list[dict[str, Any]]) -> None:
    """Give each hit its story's coverage, which the story's lead document carries."""
    leads = {h["story_id"] for h in hits if h["story_id"] and h["story_id"] != h["id"]}
    if not leads:
        return
    response = es.search(
        index=index,
        query={"ids": {"values": sorted(leads)}},
        size=len(leads),
        source_includes=["coverage"],
    )
    coverage = {h["_id"]: h["_source"].get("coverage") for h in response["hits"]["hits"]}
    for hit in hits:
        story = coverage.get(hit["story_id"])
        if story:
            hit["coverage"] = story
