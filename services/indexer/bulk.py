"""Bulk writes to Elasticsearch: each article once, retried through any outage.

The promise of :meth:`BulkIndexer.index`: when it returns, every message of the
batch is either in Elasticsearch (created now, or found already there) or
returned as a rejection that can never succeed. Outages (connection errors,
timeouts, 429, 5xx) are retried with exponential backoff and jitter for as long
as they last; the caller's consumer waits meanwhile, which is the backpressure.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from elastic_transport import ConnectionError as TransportConnectionError
from elastic_transport import ConnectionTimeout
from elasticsearch import ApiError, AsyncElasticsearch, TransportError

from shared.models import UniqueArticle

__all__ = ["Backoff", "BulkIndexer", "Rejection", "document"]

log = logging.getLogger(__name__)

# HTTP statuses of a bulk item that mean "the cluster is busy or broken right
# now", never "this document is wrong".
_RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})


def document(message: UniqueArticle, indexed_at: datetime) -> dict[str, Any]:
    """The Elasticsearch document for an article that dedup let through."""
    a = message.article
    return {
        "id": a.id,
        "url": a.url,
        "canonical_url": a.canonical_url,
        "source": a.source_id,
        "site": a.site_name,
        "title": a.title,
        "text": a.text,
        "description": a.description,
        "authors": a.authors,
        "tags": a.tags,
        "section": a.section,
        "language": a.language,
        "image": a.image,
        # Kibana's time field: an article without a date is dated by its fetch.
        "published_at": (a.published_at or a.fetched_at).isoformat(),
        "date_found": a.published_at is not None,
        "modified_at": a.modified_at.isoformat() if a.modified_at else None,
        "fetched_at": a.fetched_at.isoformat(),
        "indexed_at": indexed_at.isoformat(),
        "word_count": a.word_count,
        "story_id": message.story_id,
        "duplicate_of": message.duplicate_of,
        "similarity": message.similarity,
        "coverage": {"sources": [a.source_id], "count": 1},
        "extractor": a.extractor,
        "extractor_version": a.extractor_version,
        "flags": a.flags,
    }


@dataclass(frozen=True)
class Rejection:
    """A message Elasticsearch refused for good, with its error."""

    position: int
    reason: str
    error: str


@dataclass
class Backoff:
    """Exponential backoff with full jitter, capped."""

    initial_s: float = 0.5
    max_s: float = 30.0
    attempt: int = 0

    def next_delay(self) -> float:
        ceiling = min(self.max_s, self.initial_s * (2**self.attempt))
        self.attempt += 1
        return random.uniform(ceiling / 2, ceiling)

    def reset(self) -> None:
        self.attempt = 0


@dataclass
class _Coverage:
    target: str
    sources: set[str] = field(default_factory=set)
    positions: list[int] = field(default_factory=list)


class BulkIndexer:
    """Writes batches of :class:`UniqueArticle` through the write and read aliases."""

    def __init__(
        self,
        es: AsyncElasticsearch,
        write_alias: str,
        read_alias: str,
        *,
        backoff: Callable[[], Backoff] = Backoff,
        on_retry: Callable[[str], None] | None = None,
        missing_target_tries: int = 20,
    ) -> None:
        self._es = es
        self._write = write_alias
        self._read = read_alias
        self._backoff = backoff
        self._on_retry = on_retry or (lambda reason: None)
        # A coverage update can arrive before the document it updates is
        # created (they travel different partitions); wait this many backoff
        # rounds for it before giving up on the update.
        self._missing_target_tries = missing_target_tries

    async def index(self, messages: list[UniqueArticle]) -> list[Rejection]:
        """Write every message; return only the rejections that can never succeed."""
        now = datetime.now(UTC)
        rejections: list[Rejection] = []
        creates = {i: m for i, m in enumerate(messages) if m.kind != "exact"}
        rejections += await self._create(creates, now)
        coverage: dict[str, _Coverage] = {}
        for i, m in enumerate(messages):
            if m.kind == "exact" and m.duplicate_of:
                target = m.duplicate_of
            elif m.kind == "near" and m.story_id != m.article.id:
                target = m.story_id
            else:
                continue
            entry = coverage.setdefault(target, _Coverage(target))
            entry.sources.add(m.article.source_id)
            entry.positions.append(i)
        rejections += await self._add_coverage(list(coverage.values()))
        return rejections

    async def _create(self, todo: dict[int, UniqueArticle], now: datetime) -> list[Rejection]:
        rejections: list[Rejection] = []
        backoff = self._backoff()
        # Guard across rollover: an id already in an older backing index is
        # not created again in the new write index.
        elsewhere = await self._retrying(
            self._find_in_read_alias, [m.article.id for m in todo.values()]
        )
        todo = {i: m for i, m in todo.items() if m.article.id not in elsewhere}
        while todo:
            body: list[dict[str, Any]] = []
            order = list(todo)
            for i in order:
                m = todo[i]
                body.append({"create": {"_index": self._write, "_id": m.article.id}})
                body.append(document(m, now))
            response = await self._retrying(self._bulk, body)
            retry: dict[int, UniqueArticle] = {}
            for i, item in zip(order, response["items"], strict=True):
                result = item["create"]
                status = int(result.get("status", 500))
                if status in (200, 201, 409):  # 409: the same id is there already
                    continue
                if status in _RETRYABLE_STATUS:
                    retry[i] = todo[i]
                    continue
                error = result.get("error", {})
                rejections.append(Rejection(i, f"es-{error.get('type', status)}", str(error)))
            todo = retry
            if todo:
                self._on_retry("bulk-item")
                await asyncio.sleep(backoff.next_delay())
        return rejections

    async def _add_coverage(self, updates: list[_Coverage]) -> list[Rejection]:
        """Union each target's coverage with new sources, with optimistic concurrency."""
        rejections: list[Rejection] = []
        backoff = self._backoff()
        missing_rounds = 0
        while updates:
            found = await self._retrying(self._locate, [u.target for u in updates])
            body: list[dict[str, Any]] = []
            sent: list[_Coverage] = []
            waiting: list[_Coverage] = []
            for u in updates:
                hit = found.get(u.target)
                if hit is None:
                    waiting.append(u)
                    continue
                current = hit["_source"].get("coverage") or {}
                sources = set(current.get("sources") or []) | u.sources
                if sources == set(current.get("sources") or []):
                    continue  # already counted: a replay changes nothing
                body.append(
                    {
                        "update": {
                            "_index": hit["_index"],
                            "_id": u.target,
                            "if_seq_no": hit["_seq_no"],
                            "if_primary_term": hit["_primary_term"],
                        }
                    }
                )
                body.append(
                    {"doc": {"coverage": {"sources": sorted(sources), "count": len(sources)}}}
                )
                sent.append(u)
            retry: list[_Coverage] = []
            if body:
                response = await self._retrying(self._bulk, body)
                for u, item in zip(sent, response["items"], strict=True):
                    status = int(item["update"].get("status", 500))
                    if status in (200, 201):
                        continue
                    if status == 409 or status in _RETRYABLE_STATUS:
                        retry.append(u)  # someone updated it meanwhile: read again
                        continue
                    error = item["update"].get("error", {})
                    rejections += [
                        Rejection(p, f"es-{error.get('type', status)}", str(error))
                        for p in u.positions
                    ]
            if waiting:
                missing_rounds += 1
                if missing_rounds > self._missing_target_tries:
                    rejections += [
                        Rejection(
                            p, "update-target-missing", f"no document {u.target} to add coverage to"
                        )
                        for u in waiting
                        for p in u.positions
                    ]
                    waiting = []
            updates = retry + waiting
            if updates:
                self._on_retry("coverage")
                await asyncio.sleep(backoff.next_delay())
        return rejections

    async def _find_in_read_alias(self, ids: list[str]) -> set[str]:
        if not ids:
            return set()
        response = await self._es.search(
            index=self._read,
            query={"ids": {"values": ids}},
            size=len(ids),
            source=False,
            ignore_unavailable=True,
            allow_no_indices=True,
        )
        return {hit["_id"] for hit in response["hits"]["hits"]}

    async def _locate(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        """Where each id lives, with its coverage and concurrency tokens.

        The write index answers in real time (a document created a moment ago
        is found); older backing indices are searched through the read alias.
        """
        found: dict[str, dict[str, Any]] = {}
        response = await self._es.mget(index=self._write, ids=ids, source_includes=["coverage"])
        for doc in response["docs"]:
            if doc.get("found"):
                found[doc["_id"]] = doc
        rest = [i for i in ids if i not in found]
        if rest:
            response = await self._es.search(
                index=self._read,
                query={"ids": {"values": rest}},
                size=len(rest),
                source_includes=["coverage"],
                seq_no_primary_term=True,
            )
            for hit in response["hits"]["hits"]:
                found[hit["_id"]] = hit
        return found

    async def _bulk(self, body: list[dict[str, Any]]) -> dict[str, Any]:
        response = await self._es.bulk(operations=body, refresh=False)
        return dict(response)

    async def _retrying(self, call: Callable[..., Any], *args: Any) -> Any:
        """``await call(*args)``, retried while Elasticsearch is unreachable or overloaded."""
        backoff = self._backoff()
        while True:
            try:
                return await call(*args)
            except (TransportConnectionError, ConnectionTimeout) as exc:
                reason = "connection"
                detail = str(exc)
            except ApiError as exc:
                if exc.meta.status not in _RETRYABLE_STATUS:
                    raise
                reason = f"status-{exc.meta.status}"
                detail = str(exc)
            except TransportError as exc:
                reason = "transport"
                detail = str(exc)
            delay = backoff.next_delay()
            log.warning(
                "elasticsearch unavailable, retrying",
                extra={"reason": reason, "error": detail[:300], "retry_in_s": round(delay, 2)},
            )
            self._on_retry(reason)
            await asyncio.sleep(delay)
