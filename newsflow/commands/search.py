"""``newsflow search``: full-text search."""

from __future__ import annotations

import json
from typing import Any

import click

from newsflow.commands import common_settings as _common


def _age(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    from newsflow.search import parse_since

    if value is None:
        return None
    try:
        parse_since(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc
    return value


@click.command("search")
@click.argument("query")
@click.option(
    "--since", metavar="AGE", callback=_age, help="only articles of the last AGE: 30m, 24h, 7d, 2w"
)
@click.option("--source", "sources", multiple=True, help="only this source id (repeatable)")
@click.option("--language", help="only articles in this language, e.g. en")
@click.option("--one-per-story", is_flag=True, help="one hit per story (near duplicates collapsed)")
@click.option("--size", type=click.IntRange(1, 1000), default=10, show_default=True)
@click.option("--json", "as_json", is_flag=True, help='one JSON object: {"total", "hits": [...]}')
def search_cmd(
    query: str,
    since: str | None,
    sources: tuple[str, ...],
    language: str | None,
    one_per_story: bool,
    size: int,
    as_json: bool,
) -> None:
    """Full-text search over the indexed articles, best first.

    Each hit shows its title, source, date, how many outlets carried its
    story, and a snippet with the matching words in «guillemets».
    """
    from newsflow.search import Filters, search
    from shared.elastic import sync_client

    common = _common()
    filters = Filters(since=since, sources=sources, language=language)
    with sync_client(common) as es:
        result = search(
            es,
            common.read_alias,
            query,
            size=size,
            filters=filters,
            one_per_story=one_per_story,
        )
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False))
        return
    print_hits(result)


def print_hits(result: dict[str, Any]) -> None:
    """Print a search result for people: one block per hit."""
    stories = f" in {result['stories']} stories" if "stories" in result else ""
    click.echo(f"{result['total']} article(s){stories}")
    for rank, hit in enumerate(result["hits"], 1):
        coverage = hit.get("coverage") or {}
        count = coverage.get("count", 1)
        carried = ""
        if count > 1:
            carried = f" · carried by {count} outlets ({', '.join(coverage.get('sources', []))})"
        published = (hit.get("published_at") or "")[:16].replace("T", " ")
        click.echo(f"{rank:2}. {hit.get('title_highlight') or hit['title']}")
        click.echo(f"    {hit['source']} · {published}{carried}")
        if hit["highlight"]:
            click.echo(f"    …{hit['highlight']}…")
        click.echo(f"    {hit['url']}")
