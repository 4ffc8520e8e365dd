"""``newsflow deadletter``: list, show and replay dead letters."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable
from datetime import datetime
from typing import Any

import click

from newsflow.commands import common_settings as _common
from newsflow.procs import STAGES


def _since(ctx: click.Context, param: click.Parameter, value: str | None) -> datetime | None:
    from newsflow.deadletter import parse_since

    if value is None:
        return None
    try:
        return parse_since(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc


def _filters(command: Callable[..., Any]) -> Callable[..., Any]:
    command = click.option(
        "--since", callback=_since, help="only letters since: 30m, 2h, 7d or an ISO time"
    )(command)
    command = click.option("--reason", help="only this reason code, e.g. invalid-message")(command)
    command = click.option("--stage", type=click.Choice(STAGES), help="only this stage")(command)
    return command


@click.group()
def deadletter() -> None:
    """What the stages could not process (the news.deadletter topic)."""


@deadletter.command("list")
@_filters
@click.option("--all", "repeats", is_flag=True, help="also repeats of one failure")
@click.option("--json", "as_json", is_flag=True, help="one JSON object per letter, per line")
def deadletter_list(
    stage: str | None, reason: str | None, since: datetime | None, repeats: bool, as_json: bool
) -> None:
    """List dead letters, oldest first (one per failed message unless --all)."""
    from newsflow.deadletter import distinct, read_letters, select

    letters = select(asyncio.run(read_letters(_common())), stage=stage, reason=reason, since=since)
    if not repeats:
        letters = distinct(letters)
    for entry in letters:
        d = entry.letter
        if as_json:
            row = {"id": entry.id, **d.model_dump(mode="json", exclude={"original"})}
            click.echo(json.dumps(row, ensure_ascii=False))
            continue
        where = f"{d.topic}[{d.partition}]@{d.offset}" if d.topic is not None else "-"
        click.echo(
            f"{entry.id:>10}  {d.at:%Y-%m-%d %H:%M:%S}  {d.stage:8} {d.reason:20.20} "
            f"{where:32.32} {(d.key or '-'):34.34} {d.error[:80]}"
        )
    if not as_json:
        click.echo(f"{len(letters)} letter(s)")


@deadletter.command("show")
@click.argument("letter_id")
@click.option("--original", is_flag=True, help="write the original bytes, unchanged, to stdout")
@click.option("--max-chars", type=int, default=2000, show_default=True)
def deadletter_show(letter_id: str, original: bool, max_chars: int) -> None:
    """Show one letter (ID as `list` prints it: PARTITION:OFFSET), with its original."""
    from newsflow.deadletter import read_letters, select
    from shared.deadletter import original_bytes

    found = select(asyncio.run(read_letters(_common())), ids=(letter_id,))
    if not found:
        raise click.ClickException(f"no dead letter {letter_id}")
    d = found[0].letter
    if original:
        sys.stdout.buffer.write(original_bytes(d))
        return
    for name, value in d.model_dump(mode="json", exclude={"original"}).items():
        click.echo(f"{name:>14}: {value}")
    body = original_bytes(d)
    text = body.decode("utf-8", "replace")
    click.echo(f"{'original':>14}: {len(body)} bytes")
    click.echo(text[:max_chars] + ("…" if len(text) > max_chars else ""))


@deadletter.command("replay")
@_filters
@click.option("--id", "ids", multiple=True, help="only this letter (repeatable)")
@click.option("--dry-run", is_flag=True, help="say what would be replayed; send nothing")
def deadletter_replay(
    stage: str | None,
    reason: str | None,
    since: datetime | None,
    ids: tuple[str, ...],
    dry_run: bool,
) -> None:
    """Put the originals back on their stage's input topic, once per failed message.

    Replay after fixing the cause; a letter whose cause remains comes back as
    a new letter. Replayed articles never become second documents.
    """
    from newsflow.deadletter import distinct, read_letters, replay, replay_target, select

    common = _common()
    letters = select(
        asyncio.run(read_letters(common)), stage=stage, reason=reason, since=since, ids=ids
    )
    if dry_run:
        for entry in distinct(letters):
            target = replay_target(entry.letter, common.topics) or "(not replayable)"
            click.echo(
                f"{entry.id:>10}  {entry.letter.stage:8} {entry.letter.reason:20} → {target}"
            )
        return
    result = asyncio.run(replay(common, letters))
    for entry, why in result.skipped:
        click.echo(f"skipped {entry.id} ({entry.letter.stage}/{entry.letter.reason}): {why}")
    click.echo(f"replayed {len(result.replayed)} letter(s), skipped {len(result.skipped)}")
