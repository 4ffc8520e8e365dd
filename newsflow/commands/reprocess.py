"""``newsflow reprocess``: clean, dedup and index the kept raw pages again into a new index."""

from __future__ import annotations

import json
from datetime import datetime

import click

from newsflow.commands import common_settings as _common
from newsflow.commands.deadletter import _since


@click.command("reprocess")
@click.option(
    "--since",
    callback=_since,
    help="only pages fetched since (30m, 2h, 7d or an ISO time); older documents are "
    "carried over unchanged [default: every page news.raw still holds]",
)
@click.option("--workers", default="", help="workers per stage of the set, e.g. cleaner=2")
@click.option("--json", "as_json", is_flag=True, help="print the summary as JSON")
def reprocess(since: datetime | None, workers: str, as_json: bool) -> None:
    """Run cleaning, dedup and indexing again into a new index, then swap the aliases.

    Searches go to the old index until the new one is complete, then to the
    new one: never to neither. The live pipeline keeps running throughout.
    """
    from newsflow.procs import parse_workers
    from newsflow.reprocess import Progress, make_plan
    from newsflow.reprocess import reprocess as run
    from services.indexer.settings import IndexerSettings
    from shared.elastic import sync_client

    plan = make_plan(_common(), since=since, workers=parse_workers(workers))
    click.echo(f"reprocessing into {plan.new_index} (topics {plan.work.topic_prefix}*)", err=True)
    with (
        sync_client(plan.live, request_timeout=60) as es,
        click.progressbar(
            length=1,
            label="starting",
            show_eta=True,
            show_pos=True,
            file=click.get_text_stream("stderr"),
        ) as bar,
    ):

        def show(progress: Progress) -> None:
            bar.label = f"{progress.phase:14}"
            bar.length = max(progress.total, 1)
            bar.update(progress.done - bar.pos)

        summary = run(plan, es, layout_ttl_s=IndexerSettings().layout_ttl_s, on_progress=show)
    if as_json:
        click.echo(json.dumps(summary))
        return
    click.echo(
        f"{summary['documents']} documents now behind {plan.live.read_alias} "
        f"(index {summary['index']}): {summary['raw_pages']} pages reprocessed, "
        f"{summary['carried_over']} older documents carried over"
    )
    click.echo(f"previous indices, out of both aliases now: {', '.join(summary['old_indices'])}")
    if summary["dead_letters"]:
        topic = summary["dead_letter_topic"]
        click.echo(f"{summary['dead_letters']} dead letters of this run are in {topic}")
