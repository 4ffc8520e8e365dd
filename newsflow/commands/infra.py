"""``newsflow infra``: apply the files under infra/."""

from __future__ import annotations

import asyncio

import click

from newsflow.commands import common_settings as _common


@click.group()
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
