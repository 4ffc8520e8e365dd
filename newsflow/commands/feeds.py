"""``newsflow feeds``: the feed registry."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

import click
import yaml

from newsflow.commands import common_settings as _common
from shared.models import FeedSource


@click.group()
def feeds() -> None:
    """The feed registry (the compacted news.feeds topic)."""


def _options(pairs: tuple[str, ...]) -> dict[str, Any]:
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{pair!r}: use KEY=VALUE", param_hint="--option")
        # YAML scalars: numbers, booleans and [lists] come out typed.
        options[key.strip()] = yaml.safe_load(value) if value else ""
    return options


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
@click.option(
    "--option",
    "option_pairs",
    multiple=True,
    metavar="KEY=VALUE",
    help="a kind's option, e.g. --option 'urls=[http://a/1, http://a/2]' (repeatable)",
)
def feeds_add(
    source_id: str, url: str, kind: str, name: str, interval_s: float, option_pairs: tuple[str, ...]
) -> None:
    """Add or replace a source."""
    from newsflow.feeds import put_sources
    from shared.sources import available_kinds

    if kind not in available_kinds():
        click.echo(f"warning: no plugin for kind {kind!r} is installed here", err=True)
    source = FeedSource(
        id=source_id,
        kind=kind,
        url=url,
        name=name,
        interval_s=interval_s,
        options=_options(option_pairs),
    )
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

    sources = load_sources_file(path)
    asyncio.run(put_sources(_common(), sources))
    click.echo(f"applied {len(sources)} source(s) from {path}")


@feeds.command("import-opml")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--interval", "interval_s", type=float, default=300.0, show_default=True)
@click.option("--dry-run", is_flag=True, help="show what would be added; add nothing")
def feeds_import_opml(path: Path, interval_s: float, dry_run: bool) -> None:
    """Add the feeds of an OPML file (nested folders too); report what was skipped and why."""
    from newsflow.feeds import put_sources
    from newsflow.opml import OpmlError, parse_opml

    try:
        result = parse_opml(path.read_bytes(), interval_s=interval_s)
    except OpmlError as exc:
        raise click.ClickException(f"{path}: {exc}") from exc
    for skipped in result.skipped:
        click.echo(f"skipped {skipped.title or '(untitled)'!r} {skipped.url or ''}: {skipped.why}")
    if not dry_run:
        asyncio.run(put_sources(_common(), result.sources))
    verb = "would add" if dry_run else "added"
    click.echo(f"{verb} {len(result.sources)} source(s), skipped {len(result.skipped)}")


@feeds.command("export-opml")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path), required=False)
def feeds_export_opml(path: Path | None) -> None:
    """Write every source as OPML (to PATH, or standard output)."""
    from newsflow.feeds import list_sources
    from newsflow.opml import to_opml

    document = to_opml(asyncio.run(list_sources(_common())).values())
    if path is None:
        sys.stdout.buffer.write(document + b"\n")
    else:
        path.write_bytes(document)
        click.echo(f"wrote {path}")


@feeds.command("discover")
@click.argument("url")
@click.option("--add", "add", is_flag=True, help="register what was found")
@click.option("--interval", "interval_s", type=float, default=300.0, show_default=True)
def feeds_discover(url: str, add: bool, interval_s: float) -> None:
    """Find a site's feeds (<link rel=alternate>) and sitemaps (robots.txt).

    Fetches as the fetcher would: addresses it may not reach are refused here
    too (NEWSFLOW_FETCHER_ALLOW_HOSTS).
    """
    from newsflow.discover import discover
    from newsflow.feeds import put_sources
    from newsflow.opml import source_id
    from services.fetcher.settings import FetcherSettings
    from shared.http import FetchError, HttpClient

    settings = FetcherSettings()

    async def run() -> list[Any]:
        http = HttpClient(user_agent=settings.user_agent, policy=settings.address_policy)
        try:
            return await discover(url, http)
        finally:
            await http.aclose()

    try:
        found = asyncio.run(run())
    except FetchError as exc:
        raise click.ClickException(str(exc)) from exc
    if not found:
        click.echo(f"no feeds or sitemaps found at {url}")
        return
    for item in found:
        click.echo(
            f"{item.kind:8} {item.url}  ({item.via}{': ' + item.title if item.title else ''})"
        )
    if add:
        sources = [
            FeedSource(
                id=source_id(item.title or item.url, item.url),
                kind=item.kind,
                url=item.url,
                name=item.title,
                interval_s=interval_s,
            )
            for item in found
        ]
        asyncio.run(put_sources(_common(), sources))
        click.echo(f"added {len(sources)} source(s)")


def _ago(when: float | None, now: float) -> str:
    if not when:
        return "never"
    seconds = now - float(when)
    return _span(seconds) + " ago" if seconds >= 0 else "in " + _span(-seconds)


def _span(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f}{unit}"
    return f"{seconds:.0f}s"


@feeds.command("list")
@click.option("--json", "as_json", is_flag=True, help="sources with their health, as JSON")
@click.option(
    "--app-id",
    default=None,
    help="the fetcher whose health records to read [default: NEWSFLOW_FETCHER_APP_ID or "
    "newsflow-fetcher]",
)
def feeds_list(as_json: bool, app_id: str | None) -> None:
    """List the sources with their health (from the fetcher's state changelog)."""
    from newsflow.feeds import list_sources, read_health
    from services.fetcher.settings import FetcherSettings

    common = _common()
    app_id = app_id or FetcherSettings().app_id

    async def both() -> tuple[dict[str, FeedSource], dict[str, dict[str, Any]]]:
        return await list_sources(common), await read_health(common, app_id)

    sources, health = asyncio.run(both())
    if as_json:
        rows = [
            {**s.model_dump(mode="json"), "health": _public_health(health.get(s.id))}
            for s in sources.values()
        ]
        click.echo(json.dumps(rows, indent=2))
        return
    now = time.time()
    click.echo(
        f"{'':4} {'id':28} {'kind':8} {'every':>7}  {'last ok':>9} {'fails':>5} "
        f"{'next':>8} {'items':>6} {'new':>5}  last error / url"
    )
    for s in sources.values():
        h = health.get(s.id) or {}
        failures = int(h.get("failures", 0))
        status = "off" if not s.enabled else ("FAIL" if failures else ("ok" if h else "new"))
        detail = h.get("last_error", "") if failures else s.url
        click.echo(
            f"{status:4} {s.id:28.28} {s.kind:8.8} {s.interval_s:>6.0f}s  "
            f"{_ago(h.get('last_success_at'), now):>9} {failures:>5} "
            f"{(_ago(h.get('next_poll_at'), now) if h else '-'):>8} "
            f"{int(h.get('items_seen', 0)):>6} "
            f"{float(h.get('new_share', 0)) * 100:>4.0f}%  {detail}"
        )


def _public_health(state: dict[str, Any] | None) -> dict[str, Any] | None:
    """The health fields of a state record (validators and retry bookkeeping left out)."""
    if state is None:
        return None
    keep = (
        "last_success_at",
        "last_error",
        "last_error_reason",
        "last_error_at",
        "failures",
        "next_poll_at",
        "last_poll_at",
        "last_new_at",
        "items_seen",
        "new_share",
        "polls",
        "not_modified",
        "pending",
        "final_url",
    )
    return {key: state[key] for key in keep if key in state}
