"""The request ``newsflow search`` sends."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from newsflow.commands.search import print_hits, search_cmd
from newsflow.search import Filters, build_query, parse_since


@pytest.mark.parametrize(
    ("age", "math"), [("24h", "now-24h"), ("7d", "now-7d"), ("30m", "now-30m")]
)
def test_since_is_date_math(age: str, math: str) -> None:
    assert parse_since(age) == math


@pytest.mark.parametrize("age", ["", "24", "h", "0d", "1y", "-3d", "3 days"])
def test_since_refuses_anything_else(age: str) -> None:
    with pytest.raises(ValueError):
        parse_since(age)


def test_the_cli_refuses_a_bad_age_before_asking_elasticsearch() -> None:
    result = CliRunner().invoke(search_cmd, ["ferries", "--since", "yesterday"])
    assert result.exit_code == 2
    assert "30m, 24h, 7d or 2w" in result.output


def test_query_boosts_titles_and_phrases_and_recent_articles() -> None:
    body = build_query("battery ferries")
    score = body["query"]["function_score"]
    must = score["query"]["bool"]["must"][0]["multi_match"]
    assert "title^3" in must["fields"] and "text" in must["fields"]
    phrases = score["query"]["bool"]["should"]
    assert {next(iter(p["match_phrase"])) for p in phrases} == {"title", "text"}
    assert score["functions"][0]["gauss"]["published_at"]["origin"] == "now"
    assert (score["score_mode"], score["boost_mode"]) == ("sum", "multiply")
    assert "collapse" not in body
    assert body["highlight"]["fields"]["text"]["no_match_size"] > 0


def test_filters_and_one_hit_per_story() -> None:
    filters = Filters(since="24h", sources=("lakeside", "harbour"), language="en")
    body = build_query("ferries", filters=filters, one_per_story=True)
    clauses = body["query"]["function_score"]["query"]["bool"]["filter"]
    assert {"range": {"published_at": {"gte": "now-24h"}}} in clauses
    assert {"terms": {"source": ["lakeside", "harbour"]}} in clauses
    assert {"term": {"language": "en"}} in clauses
    assert body["collapse"] == {"field": "story_id"}


def test_printed_hits_show_source_date_coverage_and_snippet(
    capsys: pytest.CaptureFixture[str],
) -> None:
    print_hits(
        {
            "total": 3,
            "stories": 2,
            "hits": [
                {
                    "id": "a1",
                    "title": "Battery ferries",
                    "title_highlight": "«Battery» «ferries»",
                    "url": "http://lakeside.test/ferries",
                    "source": "lakeside",
                    "published_at": "2026-11-25T10:00:00+00:00",
                    "story_id": "a1",
                    "score": 3.2,
                    "highlight": "the first «ferries»",
                    "coverage": {"sources": ["harbour", "lakeside"], "count": 2},
                }
            ],
        }
    )
    out = capsys.readouterr().out
    assert "3 article(s) in 2 stories" in out
    assert "«Battery» «ferries»" in out
    assert "lakeside · 2026-11-25 10:00 · carried by 2 outlets (harbour, lakeside)" in out
    assert "…the first «ferries»…" in out
