"""``newsflow search``: full-text search."""

from __future__ import annotations

import json
from typing import Any

import click

from newsflow.commands import common_settings as _common


@click.command("search")
@click.argument("query")
@click.option("--size", type=int, default=10, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="one JSON object: {total, hits}")
def search_cmd(query: str, size: int, as_json: bool) -> None:
    """Full-text search over the indexed articles."""
    from newsflow.search import search
    from shared.elastic import sync_client

    common = _common()
    with sync_client(common) as es:
        result = search(es, common.read_alias, query, size=size)
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False))
        return
    print_hits(result)


def print_hits(result: dict[str, Any]) -> None:
    click.echo(f"{result['total']} article(s)")
    for rank, hit in enumerate(result["hits"], 1):
        coverage = (hit.get("coverage") or {}).get("count", 1)
        carried = f"  · carried by {coverage} outlets" if coverage > 1 else ""
        click.echo(f"{rank:2}. {hit['title']}")
        click.echo(f"    {hit['source']} · {(hit['published_at'] or '')[:16]}{carried}")
        if hit["highlight"]:
            click.echo(f"    …{hit['highlight']}…")
        click.echo(f"    {hit['url']}")
