"""``newsflow up|down|demo|run-demo``: newsflow's own processes."""

from __future__ import annotations

import asyncio
import sys
import time

import click

from newsflow.commands import common_settings as _common
from newsflow.commands.search import print_hits

# Where `newsflow run-demo` serves the demo site; fixed so a user can open it.
DEMO_PORT = 8808


@click.command("up")
@click.option("--workers", default="", help="workers per stage, e.g. cleaner=2,dedup=2")
def up(workers: str) -> None:
    """Start the four stage services in the background (logs in .run/logs)."""
    from newsflow.procs import parse_workers, start_stages

    names = start_stages(parse_workers(workers))
    click.echo("started: " + (", ".join(names) or "nothing (all running)"))


@click.command("down")
def down() -> None:
    """Stop every process that `newsflow up` or `run-demo` started."""
    from newsflow.procs import stop_all

    stopped = stop_all()
    click.echo("stopped: " + (", ".join(stopped) or "nothing was running"))


@click.group()
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


@click.command("run-demo")
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
        start(
            "demo-site",
            [sys.executable, "-m", "newsflow.cli", "demo", "serve", "--port", str(DEMO_PORT)],
        )
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
                    " see .run/logs/"
                )
            time.sleep(1)
        click.echo(f"\n{count} demo articles searchable after {time.monotonic() - started:.1f} s\n")
        click.echo('$ newsflow search "battery ferries"')
        print_hits(search(es, common.read_alias, "battery ferries", size=3))
    click.echo('\nSearch more:  .venv/bin/newsflow search "apple frost"  (--json for scripts)')
    click.echo("Stop:         make stop")
