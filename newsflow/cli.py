"""``newsflow``: the operator's single entry point."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

import click

from shared.models import FeedSource
from shared.settings import CommonSettings

# Where `newsflow run-demo` serves the demo site; fixed so a user can open it.
DEMO_PORT = 8808


def _common() -> CommonSettings:
    return CommonSettings()


@click.group()
def main() -> None:
    """newsflow: feeds → fetcher → cleaner → dedup → indexer → Elasticsearch."""


# --- infra -----------------------------------------------------------------

@main.group()
def infra() -> None:
    """Kafka topics and the Elasticsearch index, from the files under infra/."""


@infra.command("apply")
@click.option("--partitions", type=int, default=None, help="override the partition count")
def infra_apply(partitions: int | None) -> None:
    """Create or update topics, index template and aliases (safe to re-run)."""
    from newsflow.infra import apply_index, apply_topics
    from shared.elastic import sync_client

    common = _common()
    for line in asyncio.run(apply_topics(common, partitions)):
        click.echo(line)
    with sync_client(common) as es:
        for line in apply_index(es, common):
            click.echo(line)
    click.echo("infra is up to date")


# --- feeds -----------------------------------------------------------------

@main.group()
def feeds() -> None:
    """The feed registry (the compacted news.feeds topic)."""


@feeds.command("add")
@click.argument("source_id")
@click.argument("url")
@click.option("--kind", default="rss", show_default=True, help="a newsflow.sources plugin name")
@click.option("--name", default="")
@click.option("--interval", "interval_s", type=float, default=300.0, show_default=True,
              help="seconds between polls")
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


# --- search ----------------------------------------------------------------

@main.command("search")
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
    _print_hits(result)


def _print_hits(result: dict[str, Any]) -> None:
    click.echo(f"{result['total']} article(s)")
    for rank, hit in enumerate(result["hits"], 1):
        coverage = (hit.get("coverage") or {}).get("count", 1)
        carried = f"  · carried by {coverage} outlets" if coverage > 1 else ""
        click.echo(f"{rank:2}. {hit['title']}")
        click.echo(f"    {hit['source']} · {(hit['published_at'] or '')[:16]}{carried}")
        if hit["highlight"]:
            click.echo(f"    …{hit['highlight']}…")
        click.echo(f"    {hit['url']}")


# --- processes ------------------------------------------------------------

@main.command("up")
@click.option("--workers", default="", help="workers per stage, e.g. cleaner=2,dedup=2")
def up(workers: str) -> None:
    """Start the four stage services in the background (logs in .run/logs)."""
    from newsflow.procs import parse_workers, start_stages

    names = start_stages(parse_workers(workers))
    click.echo("started: " + (", ".join(names) or "nothing (all running)"))


@main.command("down")
def down() -> None:
    """Stop every process that `newsflow up` or `run-demo` started."""
    from newsflow.procs import stop_all

    stopped = stop_all()
    click.echo("stopped: " + (", ".join(stopped) or "nothing was running"))


@main.group()
def demo() -> None:
    """The local demo site (fictional outlets, served on loopback)."""


@demo.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=DEMO_PORT, show_default=True)
def demo_serve(host: str, port: int) -> None:
    """Serve the demo site until stopped."""
    from newsflow.demo.server import DemoServer

    server = DemoServer(host=host, port=port)
    click.echo(f"demo site on {server.base_url}")
    server.serve_forever()


@demo.command("register")
@click.option("--base-url", default=f"http://127.0.0.1:{DEMO_PORT}", show_default=True)
def demo_register(base_url: str) -> None:
    """Register the demo outlets' feeds in the feed registry."""
    from newsflow.demo.server import demo_sources
    from newsflow.feeds import put_sources

    sources = demo_sources(base_url)
    asyncio.run(put_sources(_common(), sources))
    click.echo(f"registered {len(sources)} demo feeds at {base_url}")


# --- kibana ------------------------------------------------------------------

@main.group()
def kibana() -> None:
    """Kibana setup (used by the compose file's init jobs)."""


@kibana.command("set-system-password")
def kibana_set_password() -> None:
    """Set the kibana_system user's password from KIBANA_PASSWORD."""
    from newsflow.kibana import KibanaSettings, set_system_password

    settings = KibanaSettings()
    if settings.kibana_password is None:
        raise click.ClickException("KIBANA_PASSWORD is not set")
    set_system_password(_common(), settings.kibana_password)
    click.echo("kibana_system password set")


@kibana.command("import")
def kibana_import() -> None:
    """Import the saved objects of infra/kibana into Kibana (overwrites)."""
    from newsflow.kibana import KibanaSettings, import_saved_objects

    count = import_saved_objects(_common(), KibanaSettings().newsflow_kibana_url)
    click.echo(f"imported {count} saved objects")


@main.command("run-demo")
@click.option("--workers", default="", help="workers per stage, e.g. cleaner=2")
@click.option("--timeout", "timeout_s", type=float, default=180.0, show_default=True)
def run_demo(workers: str, timeout_s: float) -> None:
    """Topics, index, demo site, demo feeds, the four services; wait until searchable."""
    from newsflow.demo.content import ARTICLES, SYNDICATED
    from newsflow.demo.server import demo_sources
    from newsflow.feeds import put_sources
    from newsflow.infra import apply_index, apply_topics
    from newsflow.procs import parse_workers, running, start, start_stages
    from newsflow.search import search
    from shared.elastic import sync_client

    common = _common()
    counts = parse_workers(workers)
    for line in asyncio.run(apply_topics(common)):
        click.echo(line)
    with sync_client(common) as es:
        for line in apply_index(es, common):
            click.echo(line)
    if "demo-site" not in running():
        start("demo-site", [sys.executable, "-m", "newsflow.cli", "demo", "serve",
                            "--port", str(DEMO_PORT)])
    base_url = f"http://127.0.0.1:{DEMO_PORT}"
    asyncio.run(put_sources(common, demo_sources(base_url)))
    click.echo(f"demo site on {base_url}; {len(demo_sources(base_url))} demo feeds registered")
    names = start_stages(counts)
    click.echo("started: " + (", ".join(names) or "all services were running"))
    expected = len(ARTICLES) - len(SYNDICATED)
    started = time.monotonic()
    with sync_client(common) as es:
        while True:
            es.indices.refresh(index=common.read_alias)
            count = int(es.count(index=common.read_alias)["count"])
            if count >= expected:
                break
            if time.monotonic() - started > timeout_s:
                raise click.ClickException(
                    f"only {count} of {expected} demo articles searchable after {timeout_s:.0f} s;"
                    " see .run/logs/")
            time.sleep(1)
        click.echo(f"\n{count} demo articles searchable after {time.monotonic() - started:.1f} s\n")
        click.echo('$ newsflow search "battery ferries"')
        _print_hits(search(es, common.read_alias, "battery ferries", size=3))
    click.echo("\nSearch more:  .venv/bin/newsflow search \"apple frost\"  (add --json for scripts)")
    click.echo("Stop:         make stop")


if __name__ == "__main__":
    main()
