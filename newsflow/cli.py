"""``newsflow``: the operator's single entry point."""

from __future__ import annotations

import click

from newsflow.commands import (
    deadletter,
    feeds,
    infra,
    kibana,
    offline,
    reprocess,
    run,
    search,
    status,
)


@click.group()
def main() -> None:
    """newsflow: feeds → fetcher → cleaner → dedup → indexer → Elasticsearch."""


main.add_command(infra.infra)
main.add_command(feeds.feeds)
main.add_command(search.search_cmd)
main.add_command(run.up)
main.add_command(run.down)
main.add_command(run.demo)
main.add_command(run.run_demo)
main.add_command(kibana.kibana)
main.add_command(offline.extract)
main.add_command(offline.dedup)
main.add_command(status.status)
main.add_command(deadletter.deadletter)
main.add_command(reprocess.reprocess)


if __name__ == "__main__":
    main()
