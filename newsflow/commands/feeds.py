"""``newsflow feeds``: the feed registry."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import click

from newsflow.commands import common_settings as _common
from shared.models import FeedSource


@click.group()
def feeds() -> None:
    """The feed registry (the compacted news.feeds topic)."""


@feeds.command("add")
@click.argument("source_id")
@click.argument("url")
@click.option("--kind", default="rss", show_default=True, help="a newsflow.sources plugin name")
@click.option("--name", default="")
@click.option(
    "--interval",
    "interval_s",
    type=float,
    default=300.0,
    show_default=True,
    help="seconds between polls",
)
def feeds_add(source_id: str, url: str, kind: str, name: str, interval_s: float) -> None:
    """Add or replace a source."""
    from newsflow.feeds import put_sources

    source = FeedSource(id=source_id, kind=kind, url=url, name=name, interval_s=interval_s)
    asyncio.run(put_sources(_common(), [source]))
    click.echo(f"added {source_id} ({kind}) {url}")


@feeds.command("remove")
@click.argument("source_ids", nargs=-1, required=True)
def feeds_remove(source_ids: tuple[str, ...]) -> None:
    """Remove sources by id."""
    from newsflow.feeds import remove_sources

    asyncio.run(remove_sources(_common(), list(source_ids)))
    click.echo(f"removed {len(source_ids)} source(s)")


@feeds.command("apply")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def feeds_apply(path: Path) -> None:
    """Add or replace every source declared in a YAML file."""
    from newsflow.feeds import load_sources_file, put_sources

    sources = [s for s in load_sources_file(path)]
    asyncio.run(put_sources(_common(), sources))
    click.echo(f"applied {len(sources)} source(s) from {path}")


@feeds.command("list")
@click.option("--json", "as_json", is_flag=True)
def feeds_list(as_json: bool) -> None:
    """List the configured sources."""
    from newsflow.feeds import list_sources

    sources = asyncio.run(list_sources(_common()))
    if as_json:
        click.echo(json.dumps([s.model_dump(mode="json") for s in sources.values()], indent=2))
        return
    for s in sources.values():
        state = "on " if s.enabled else "off"
        click.echo(f"{state} {s.id:32} {s.kind:8} every {s.interval_s:>6.0f}s  {s.url}")
