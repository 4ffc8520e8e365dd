"""``newsflow status``: the pipeline at a glance."""

from __future__ import annotations

import json
import time

import click

from newsflow.commands import common_settings as _common


def stage_app_ids() -> dict[str, str]:
    """Each stage's app id (its consumer group), as its own settings say."""
    from services.cleaner.settings import CleanerSettings
    from services.dedup.settings import DedupSettings
    from services.fetcher.settings import FetcherSettings
    from services.indexer.settings import IndexerSettings

    return {
        "fetcher": FetcherSettings().app_id,
        "cleaner": CleanerSettings().app_id,
        "dedup": DedupSettings().app_id,
        "indexer": IndexerSettings().app_id,
    }


@click.command("status")
@click.option("--watch", is_flag=True, help="refresh until interrupted")
@click.option(
    "--interval",
    type=float,
    default=2.0,
    show_default=True,
    help="seconds between refreshes (and between the two samples rates come from)",
)
@click.option("--json", "as_json", is_flag=True, help="one JSON object per refresh")
def status(watch: bool, interval: float, as_json: bool) -> None:
    """Workers, rate and lag of each stage; dead letters; the index's size and newest article."""
    from newsflow.status import render, snapshot, stage_specs, with_rates
    from shared.elastic import sync_client

    common = _common()
    specs = stage_specs(common, stage_app_ids())
    with sync_client(common, request_timeout=5) as es:
        previous = snapshot(common, specs, es)
        while True:
            time.sleep(interval)
            current = with_rates(snapshot(common, specs, es), previous)
            if as_json:
                click.echo(json.dumps(current.to_json()))
            else:
                if watch:
                    click.clear()
                click.echo(render(current))
            if not watch:
                return
            previous = current
