"""``newsflow extract`` and ``newsflow dedup``: the services' own code, on JSON lines.

Both read one JSON object per line on stdin and write one per input line on
stdout, in input order, streaming (memory does not grow with the input). They
call the very functions the cleaner and dedup services call.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from multiprocessing import Pool
from typing import Any, TextIO

import click

from services.cleaner.extract import clean
from services.dedup.decide import Article, DedupConfig
from services.dedup.resolve import InMemoryDeduper
from shared.exceptions import PoisonMessage
from shared.models import RawArticle
from shared.urls import article_id, canonical_url

# Fields `newsflow extract` prints besides the id, in this order.
_EXTRACT_FIELDS = (
    "title",
    "text",
    "authors",
    "published_at",
    "modified_at",
    "language",
    "site_name",
    "canonical_url",
    "description",
    "image",
    "section",
    "tags",
    "word_count",
    "extractor",
    "extractor_version",
    "flags",
)


def _lines(stream: TextIO) -> Iterator[tuple[int, dict[str, Any] | str]]:
    """(line number, parsed object or the error) for each non-blank line."""
    for number, line in enumerate(stream, 1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            yield number, f"line {number}: not JSON: {exc.msg}"
            continue
        yield number, value if isinstance(value, dict) else f"line {number}: not an object"


def _raw(item: dict[str, Any]) -> RawArticle:
    url = str(item.get("url") or "")
    html, text = item.get("html"), item.get("text")
    if (html is None) == (text is None):
        raise PoisonMessage("invalid-input", "give exactly one of 'html' and 'text'")
    fetched = item.get("fetched_at")
    return RawArticle(
        id=str(item.get("id") or article_id(canonical_url(url))),
        source_id=str(item.get("source") or "offline"),
        source_kind="offline",
        url=url,
        final_url=url,
        fetched_at=datetime.fromisoformat(fetched) if fetched else datetime.now(UTC),
        body_kind="html" if html is not None else "text",
        body=str(html if html is not None else text),
    )


def _extract_one(entry: tuple[int, dict[str, Any] | str]) -> dict[str, Any]:
    """One output line: the cleaned fields, or the id and why it failed."""
    _, item = entry
    if isinstance(item, str):
        return {"id": None, "error": "invalid-input", "detail": item}
    try:
        article = clean(_raw(item))
    except PoisonMessage as exc:
        return {"id": item.get("id"), "error": exc.reason, "detail": str(exc.args[0])}
    except (ValueError, TypeError) as exc:
        return {"id": item.get("id"), "error": "invalid-input", "detail": str(exc)}
    fields = article.model_dump(mode="json", include=set(_EXTRACT_FIELDS))
    return {"id": item.get("id", article.id), **{k: fields[k] for k in _EXTRACT_FIELDS}}


@click.command("extract")
@click.option(
    "--processes",
    type=int,
    default=1,
    show_default=True,
    help="extraction processes; output order stays the input order",
)
def extract(processes: int) -> None:
    """Clean pages: JSON lines {id,url,html} or {id,url,text,fetched_at} → articles."""
    entries = _lines(sys.stdin)
    out = sys.stdout
    if processes <= 1:
        for entry in entries:
            out.write(json.dumps(_extract_one(entry), ensure_ascii=False) + "\n")
        return
    with Pool(processes) as pool:
        # imap keeps input order and pulls input lazily, so memory stays flat.
        for result in pool.imap(_extract_one, entries, chunksize=8):
            out.write(json.dumps(result, ensure_ascii=False) + "\n")


@click.command("dedup")
@click.option(
    "--window-days",
    type=float,
    default=30.0,
    show_default=True,
    help="how long an article can be matched",
)
def dedup(window_days: float) -> None:
    """Decide duplicates: JSON lines {id,url,title,text,published_at?} in arrival order."""
    deduper = InMemoryDeduper(DedupConfig(window_s=window_days * 86400))
    clock: datetime | None = None
    for _, item in _lines(sys.stdin):
        if isinstance(item, str):
            sys.stdout.write(
                json.dumps({"id": None, "error": "invalid-input", "detail": item}) + "\n"
            )
            continue
        url = str(item.get("url") or "")
        published = item.get("published_at")
        try:
            published_at = datetime.fromisoformat(published) if published else None
        except ValueError:
            published_at = None
        if published_at is not None and published_at.tzinfo is None:
            published_at = published_at.replace(tzinfo=UTC)
        # The stream's clock: publication dates as they arrive, never going
        # back, so the window (and memory) follows the news, not the run.
        candidates = [t for t in (clock, published_at) if t is not None]
        clock = max(candidates) if candidates else datetime.now(UTC)
        seen_at = clock
        article = Article(
            id=str(item.get("id") or article_id(canonical_url(url))),
            canonical_url=canonical_url(url),
            title=str(item.get("title") or ""),
            text=str(item.get("text") or ""),
            source=str(item.get("source") or (url.split("/")[2] if "//" in url else "")),
            seen_at=seen_at,
            published_at=published_at,
        )
        decision = deduper.process(article)
        sys.stdout.write(
            json.dumps(
                {
                    "id": article.id,
                    "kind": decision.kind,
                    "story_id": decision.story_id,
                    "duplicate_of": decision.duplicate_of,
                    "similarity": decision.similarity,
                }
            )
            + "\n"
        )
