"""Bulk writes to Elasticsearch: each article once, retried through any outage.

The promise of :meth:`BulkIndexer.index`: when it returns, every message of the
batch is either in Elasticsearch (created now, found there already, or its
change applied as an explicit update) or returned as a rejection that can
never succeed. Outages (connection errors, timeouts, 408, 429, 5xx) are
retried with exponential backoff and jitter for as long as they last; the
caller's consumer waits meanwhile, which is the backpressure.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from elasticsearch import ApiError, AsyncElasticsearch
from elasticsearch.serializer import NdjsonSerializer, OrjsonSerializer

from services.indexer.document import (
    content_update,
    coverage_targets,
    document,
    grown_coverage,
    id_problem,
    is_newer,
    is_placeholder,
    json_bytes,
    placeholder,
    replacing,
)
from services.indexer.layout import Layout
from services.indexer.retry import RETRYABLE_STATUS, Backoff, retrying
from shared.models import UniqueArticle

__all__ = ["BulkIndexer", "FastNdjsonSerializer", "Rejection", "Stored", "client_options"]

log = logging.getLogger(__name__)

# What the indexer reads back of a stored document to decide on a change.
_STORED_FIELDS = ["kind", "content_hash", "fetched_at", "coverage"]

# Longest slice of Elasticsearch's error kept in a dead letter.
_MAX_ERROR_CHARS = 2000


class FastNdjsonSerializer(NdjsonSerializer):
    """Bulk bodies serialised with orjson, several times faster than ``json``."""

    def json_dumps(self, data: Any) -> bytes:
        return json_bytes(data)


def client_options(request_timeout_s: float) -> dict[str, Any]:
    """How the indexer's Elasticsearch client is built (the benchmark's baseline too)."""
    return {
        "request_timeout": request_timeout_s,
        # The transport's own retries of 429/5xx come without delay; ours back off.
        "retry_on_status": (),
        # A bulk body and its answer (an item per document) cost the standard
        # library's json about as much CPU as the rest of the indexer.
        "serializers": {
            FastNdjsonSerializer.mimetype: FastNdjsonSerializer(),
            OrjsonSerializer.mimetype: OrjsonSerializer(),
        },
    }


@dataclass(frozen=True)
class Rejection:
    """A message Elasticsearch refused for good, with its error."""

    position: int
    reason: str
    error: str


@dataclass(frozen=True)
class Stored:
    """Where a document lives, the fields a change depends on, and its concurrency token."""

    index: str
    seq_no: int
    primary_term: int
    source: dict[str, Any]

    @property
    def token(self) -> dict[str, int]:
        """The bulk action parameters that make a write fail if the document changed."""
        return {"if_seq_no": self.seq_no, "if_primary_term": self.primary_term}


@dataclass
class _Coverage:
    target: str
    story_id: str
    sources: set[str] = field(default_factory=set)
    positions: list[int] = field(default_factory=list)


def _rejection(position: int, status: int, result: dict[str, Any]) -> Rejection:
    error = result.get("error") or {"status": status}
    kind = error.get("type", status) if isinstance(error, dict) else status
    text = json.dumps(error, ensure_ascii=False) if isinstance(error, dict) else str(error)
    return Rejection(position, f"es-{kind}", text[:_MAX_ERROR_CHARS])


class BulkIndexer:
    """Writes batches of :class:`UniqueArticle` to the indices behind the aliases."""

    def __init__(
        self,
        es: AsyncElasticsearch,
        layout: Layout,
        *,
        backoff: Callable[[], Backoff] = Backoff,
    ) -> None:
        self._es = es
        self._layout = layout
        self._backoff = backoff

    async def index(self, messages: Sequence[UniqueArticle]) -> list[Rejection]:
        """Write every message; return only the rejections that can never succeed.

        ``unique`` and ``near`` messages become documents (or explicit updates
        of their document when their content changed); ``exact`` and ``near``
        messages add their source to the coverage of the documents they copy,
        through a placeholder if those are not indexed yet. At most one
        rejection per message, in message order.
        """
        rejected: dict[int, Rejection] = {}
        valid: dict[int, UniqueArticle] = {}
        for i, message in enumerate(messages):
            problem = id_problem(message)
            if problem is None:
                valid[i] = message
            else:
                rejected[i] = Rejection(i, "invalid-id", problem)
        articles = {i: m for i, m in valid.items() if m.kind != "exact"}
        for rejection in await self._write_articles(articles):
            rejected[rejection.position] = rejection
        coverage: dict[str, _Coverage] = {}
        for i, message in valid.items():
            if i in rejected:
                continue  # its own document failed: it counts nowhere
            for target in coverage_targets(message):
                entry = coverage.setdefault(target, _Coverage(target, message.story_id))
                entry.sources.add(message.article.source_id)
                entry.positions.append(i)
        for rejection in await self._add_coverage(list(coverage.values())):
            rejected.setdefault(rejection.position, rejection)
        return [rejected[i] for i in sorted(rejected)]

    async def _write_articles(self, todo: dict[int, UniqueArticle]) -> list[Rejection]:
        """Create each article's document, or update it if it exists with other content."""
        if not todo:
            return []
        layout = await self._layout.current()
        now = datetime.now(UTC)
        pending = {i: document(m, now) for i, m in todo.items()}
        # Across rollover: a document in an older index is not created again
        # in the write index, whose 409 knows only its own documents.
        stored = await self._find({d["id"] for d in pending.values()}, layout.older)
        rejections: list[Rejection] = []
        backoff = self._backoff()
        rounds = 0
        while pending:
            rounds += 1
            body: list[dict[str, Any]] = []
            ops: list[tuple[int, str]] = []
            for i, doc in pending.items():
                found = stored.get(doc["id"])
                if found is None:
                    body += [{"create": {"_index": layout.write, "_id": doc["id"]}}, doc]
                    ops.append((i, "create"))
                elif is_placeholder(found.source):
                    body += [
                        {"index": {"_index": found.index, "_id": doc["id"], **found.token}},
                        replacing(doc, found.source),
                    ]
                    ops.append((i, "index"))
                elif is_newer(doc, found.source):
                    body += [
                        {"update": {"_index": found.index, "_id": doc["id"], **found.token}},
                        {"doc": content_update(doc, now)},
                    ]
                    ops.append((i, "update"))
            if not ops:
                break  # everything is there already, as sent or newer
            items = await self._bulk(body)
            retry: dict[int, dict[str, Any]] = {}
            reread: set[str] = set()
            busy = False
            for (i, op), item in zip(ops, items, strict=True):
                result = item[op]
                status = int(result.get("status", 500))
                doc_id = pending[i]["id"]
                if status in (200, 201):
                    continue
                if status == 409:
                    # create: the id is there already; update and index: it
                    # changed meanwhile. Either way: read it, decide again.
                    reread.add(doc_id)
                    retry[i] = pending[i]
                elif status == 404 and op == "update":
                    stored.pop(doc_id, None)  # deleted meanwhile: create it again
                    retry[i] = pending[i]
                elif status in RETRYABLE_STATUS:
                    busy = True
                    retry[i] = pending[i]
                else:
                    rejections.append(_rejection(i, status, result))
            if reread:
                for doc_id in reread:
                    stored.pop(doc_id, None)
                stored.update(await self._find(reread, layout.all))
            pending = retry
            if pending and (busy or rounds > 1):
                # A conflict is retried at once; one that keeps coming back
                # (writers racing for the same document) backs off.
                await asyncio.sleep(backoff.next_delay())
        return rejections

    async def _add_coverage(self, updates: list[_Coverage]) -> list[Rejection]:
        """Union each target's coverage with new sources, with optimistic concurrency.

        A target not indexed yet gets a placeholder holding its coverage.
        """
        rejections: list[Rejection] = []
        backoff = self._backoff()
        rounds = 0
        while updates:
            rounds += 1
            layout = await self._layout.current()
            stored = await self._find({u.target for u in updates}, layout.all)
            body: list[dict[str, Any]] = []
            sent: list[tuple[_Coverage, str]] = []
            for u in updates:
                found = stored.get(u.target)
                if found is None:
                    body += [
                        {"create": {"_index": layout.write, "_id": u.target}},
                        placeholder(u.target, u.story_id, u.sources),
                    ]
                    sent.append((u, "create"))
                    continue
                grown = grown_coverage(found.source.get("coverage"), u.sources)
                if grown is None:
                    continue  # already counted: a replay changes nothing
                body += [
                    {"update": {"_index": found.index, "_id": u.target, **found.token}},
                    {"doc": {"coverage": grown}},
                ]
                sent.append((u, "update"))
            retry: list[_Coverage] = []
            busy = False
            if body:
                for (u, op), item in zip(sent, await self._bulk(body), strict=True):
                    result = item[op]
                    status = int(result.get("status", 500))
                    if status in (200, 201):
                        continue
                    if status in (404, 409):
                        retry.append(u)  # created, changed or gone meanwhile: read again
                    elif status in RETRYABLE_STATUS:
                        busy = True
                        retry.append(u)
                    else:
                        rejections += [_rejection(p, status, result) for p in u.positions]
            updates = retry
            if updates and (busy or rounds > 1):
                await asyncio.sleep(backoff.next_delay())
        return rejections

    async def _find(self, ids: Iterable[str], indices: Sequence[str]) -> dict[str, Stored]:
        """Which of ``ids`` are in ``indices`` (newest first), where, and as what.

        The two newest indices are read with a real-time multi-get, which sees
        a document written a moment ago; older ones, written to no more, are
        searched.
        """
        rest = sorted(ids)
        found: dict[str, Stored] = {}
        for index in indices[:2]:
            if not rest:
                break
            found.update(await self._mget(index, rest))
            rest = [i for i in rest if i not in found]
        searched = indices[2:]
        if rest and searched:
            response = await retrying(
                lambda: self._es.search(
                    index=",".join(searched),
                    query={"ids": {"values": rest}},
                    size=min(10_000, len(rest) * len(searched)),
                    source_includes=_STORED_FIELDS,
                    seq_no_primary_term=True,
                    ignore_unavailable=True,
                    allow_no_indices=True,
                ),
                self._backoff(),
            )
            for hit in response["hits"]["hits"]:
                # The newest copy wins if an id somehow sits in two old indices.
                if hit["_id"] not in found or hit["_index"] > found[hit["_id"]].index:
                    found[hit["_id"]] = Stored(
                        hit["_index"], hit["_seq_no"], hit["_primary_term"], hit["_source"]
                    )
        return found

    async def _mget(self, index: str, ids: list[str]) -> dict[str, Stored]:
        response = await retrying(
            lambda: self._es.mget(index=index, ids=ids, source_includes=_STORED_FIELDS),
            self._backoff(),
        )
        return {
            doc["_id"]: Stored(doc["_index"], doc["_seq_no"], doc["_primary_term"], doc["_source"])
            for doc in response["docs"]
            if doc.get("found")
        }

    async def _bulk(self, body: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The items of a bulk request of ``body``, whatever the outage in between.

        A request too large for the server is split in halves; a single
        action too large for it comes back as a 413 item.
        """
        try:
            response = await retrying(
                lambda: self._es.bulk(operations=body, refresh=False), self._backoff()
            )
        except ApiError as exc:
            if exc.meta.status != 413:
                raise
            actions = len(body) // 2  # every action here has one source line
            if actions == 1:
                op = next(iter(body[0]))
                error = {"type": "request_too_large", "reason": str(exc)[:300]}
                return [{op: {"status": 413, "error": error}}]
            half = (actions // 2) * 2
            log.warning("bulk request too large, splitting", extra={"actions": actions})
            return await self._bulk(body[:half]) + await self._bulk(body[half:])
        items: list[dict[str, Any]] = response["items"]
        return items
