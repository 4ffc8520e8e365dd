"""``newsflow search`` over documents the indexer wrote, on a real Elasticsearch.

The documents go in through :class:`BulkIndexer` directly (the worker around
it is tested in ``test_indexer_service``), so each test sees a small corpus
with known stories, sources, languages and dates.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from click.testing import CliRunner
from elasticsearch import AsyncElasticsearch

from newsflow.commands.search import search_cmd
from newsflow.search import Filters, search
from services.indexer.bulk import BulkIndexer
from services.indexer.layout import Layout
from services.indexer.retry import Backoff
from shared.elastic import sync_client
from shared.models import CleanArticle, UniqueArticle
from shared.settings import CommonSettings

NOW = datetime.now(UTC)


def _message(
    id_: str,
    source: str,
    title: str,
    text: str,
    *,
    age: timedelta = timedelta(hours=1),
    language: str = "en",
    kind: str = "unique",
    story: str | None = None,
    copies: str | None = None,
) -> UniqueArticle:
    article = CleanArticle(
        id=id_,
        source_id=source,
        url=f"http://{source}.test/{id_}",
        canonical_url=f"http://{source}.test/{id_}",
        fetched_at=NOW - age,
        published_at=NOW - age,
        title=title,
        text=text,
        language=language,
        word_count=len(text.split()),
    )
    return UniqueArticle(
        kind=kind,  # type: ignore[arg-type]
        article=article,
        story_id=story or id_,
        duplicate_of=copies,
        similarity=None if copies is None else 0.9,
    )


CORPUS = [
    _message(
        "a1",
        "lakeside",
        "Battery ferries enter service on the lake",
        "The first battery ferries crossed the lake on Monday, silent and full.",
    ),
    # A near duplicate of a1 from another outlet, and an exact copy of a1.
    _message(
        "a2",
        "harbour",
        "Electric ferries begin their service",
        "Battery ferries crossed the lake on Monday; passengers praised the quiet.",
        kind="near",
        story="a1",
        copies="a1",
    ),
    _message(
        "a3",
        "riverside",
        "Battery ferries enter service on the lake",
        "The first battery ferries crossed the lake on Monday, silent and full.",
        kind="exact",
        story="a1",
        copies="a1",
    ),
    # Same title words, but 40 days old.
    _message(
        "d1",
        "harbour",
        "Battery ferries ordered",
        "The council ordered two battery ferries for next year.",
        age=timedelta(days=40),
    ),
    # The words only in the body, in the wrong order.
    _message(
        "e1",
        "lakeside",
        "Council passes the budget",
        "Among other things the budget pays for ferries; battery prices fell.",
        age=timedelta(hours=3),
    ),
    _message(
        "c1",
        "lakeside",
        "Fähren mit Batterie im Dienst",
        "Die ersten Fähren mit Batterie fuhren am Montag über den See. Café geöffnet.",
        age=timedelta(hours=2),
        language="de",
    ),
]


@pytest.fixture
async def corpus(common: CommonSettings) -> AsyncIterator[CommonSettings]:
    es = AsyncElasticsearch(common.es_url)
    try:
        layout = Layout(es, common.read_alias, common.write_alias, ttl_s=10, backoff=Backoff)
        assert await BulkIndexer(es, layout).index(CORPUS) == []
        await es.indices.refresh(index=common.read_alias)
    finally:
        await es.close()
    yield common


def _search(common: CommonSettings, query: str, **kwargs: Any) -> dict[str, Any]:
    with sync_client(common) as es:
        return search(es, common.read_alias, query, **kwargs)


def _ids(result: dict[str, Any]) -> list[str]:
    return [h["id"] for h in result["hits"]]


async def test_title_phrase_and_recency_rank_first(corpus: CommonSettings) -> None:
    ids = _ids(_search(corpus, "battery ferries"))
    assert ids[0] == "a1"
    # A recent title match beats an old one; any title match beats the body-only one.
    assert ids.index("a1") < ids.index("d1")
    assert ids.index("d1") < ids.index("e1")
    assert "a3" not in ids  # an exact copy is no document of its own


async def test_english_stemming_and_folding_find_other_forms(corpus: CommonSettings) -> None:
    assert "a1" in _ids(_search(corpus, "ferry"))
    assert _ids(_search(corpus, "cafe")) == ["c1"]


async def test_one_hit_per_story_with_the_story_coverage(corpus: CommonSettings) -> None:
    result = _search(corpus, "battery ferries lake", one_per_story=True)
    stories = [h["story_id"] for h in result["hits"]]
    assert len(stories) == len(set(stories))
    assert result["stories"] == len(stories)
    (story,) = [h for h in result["hits"] if h["story_id"] == "a1"]
    assert story["coverage"] == {"sources": ["harbour", "lakeside", "riverside"], "count": 3}
    everything = _search(corpus, "battery ferries lake")
    assert {"a1", "a2"} <= set(_ids(everything))


async def test_filters_by_age_source_and_language(corpus: CommonSettings) -> None:
    recent = _ids(_search(corpus, "battery ferries", filters=Filters(since="7d")))
    assert "d1" not in recent and "a1" in recent
    harbour = _search(corpus, "ferries", filters=Filters(sources=("harbour",)))
    assert {h["source"] for h in harbour["hits"]} == {"harbour"}
    assert _ids(_search(corpus, "Fähren", filters=Filters(language="de"))) == ["c1"]
    assert _ids(_search(corpus, "Fähren", filters=Filters(language="en"))) == []


async def test_hits_carry_highlighted_snippets(corpus: CommonSettings) -> None:
    hit = _search(corpus, "silent")["hits"][0]
    assert hit["id"] == "a1" and "«silent»" in hit["highlight"]
    title_only = _search(corpus, "enter service")["hits"][0]
    assert "«" in title_only["title_highlight"] and title_only["highlight"]


async def test_the_command_prints_json_in_the_documented_shape(
    corpus: CommonSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSFLOW_ES_URL", corpus.es_url)
    monkeypatch.setenv("NEWSFLOW_INDEX_PREFIX", corpus.index_prefix)
    runner = CliRunner()
    result = runner.invoke(search_cmd, ["battery ferries", "--json", "--one-per-story"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert set(data) >= {"total", "hits"}
    keys = {"id", "title", "url", "source", "published_at", "story_id", "score", "highlight"}
    assert data["hits"] and all(keys <= set(h) for h in data["hits"])
    assert len({h["story_id"] for h in data["hits"]}) == len(data["hits"])
    text = runner.invoke(search_cmd, ["battery ferries", "--source", "lakeside", "--since", "24h"])
    assert text.exit_code == 0, text.output
    assert "carried by 3 outlets" in text.output
