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
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any

import orjson
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
from services.indexer.metrics import IndexerMetrics, retry_reason, status_reason
from services.indexer.retry import RETRYABLE_STATUS, Backoff, retrying
from shared.models import UniqueArticle

__all__ = [
    "BulkIndexer",
    "FastNdjsonSerializer",
    "Prepared",
    "Rejection",
    "Stored",
    "client_options",
    "prepare",
]

log = logging.getLogger(__name__)

# What the indexer reads back of a stored document to decide on a change.
_STORED_FIELDS = ["kind", "content_hash", "fetched_at", "coverage"]

# Longest slice of Elasticsearch's error kept in a dead letter.
_MAX_ERROR_CHARS = 2000

# Of a bulk response the indexer reads only each item's status and error;
# the rest (ids, versions, shards, seq_no per item) would be most of the
# answer for Elasticsearch to write and for the worker to parse.
_BULK_RESPONSE_FIELDS = ["errors", "items.*.status", "items.*.error"]


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
class Prepared:
    """A message with its document built and encoded, ready for a bulk request.

    Building and encoding documents is most of the indexer's own work per
    message; done ahead (see :func:`prepare`), it overlaps the previous
    batch's request instead of delaying the next one.
    """

    message: UniqueArticle
    doc: dict[str, Any] | None = None
    source: bytes = b""


def prepare(message: UniqueArticle, indexed_at: datetime) -> Prepared:
    """``message`` with the document it creates, if it creates one (exact copies do not)."""
    if message.kind == "exact" or id_problem(message) is not None:
        return Prepared(message)
    doc = document(message, indexed_at)
    return Prepared(message, doc, json_bytes(doc))


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
        metrics: IndexerMetrics | None = None,
    ) -> None:
        self._es = es
        self._layout = layout
        self._backoff = backoff
        self._metrics = metrics or IndexerMetrics()

    async def index(self, messages: Sequence[UniqueArticle | Prepared]) -> list[Rejection]:
        """Write every message; return only the rejections that can never succeed.

        A message may come as :func:`prepare` made it (the worker prepares a
        batch while the previous one is written); others are prepared here.

        ``unique`` and ``near`` messages become documents (or explicit updates
        of their document when their content changed); ``exact`` and ``near``
        messages add their source to the coverage of the documents they copy,
        through a placeholder if those are not indexed yet. At most one
        rejection per message, in message order.
        """
        now = datetime.now(UTC)
        items = [m if isinstance(m, Prepared) else prepare(m, now) for m in messages]
        rejected: dict[int, Rejection] = {}
        valid: dict[int, UniqueArticle] = {}
        for i, item in enumerate(items):
            problem = id_problem(item.message)
            if problem is None:
                valid[i] = item.message
            else:
                rejected[i] = Rejection(i, "invalid-id", problem)
        articles = {i: items[i] for i in valid if items[i].doc is not None}
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

    async def _write_articles(self, todo: dict[int, Prepared]) -> list[Rejection]:
        """Create each article's document, or update it if it exists with other content."""
        if not todo:
            return []
        layout = await self._layout.current()
        now = datetime.now(UTC)
        pending = dict(todo)
        # Across rollover: a document in an older index is not created again
        # in the write index, whose 409 knows only its own documents.
        stored = await self._find({p.message.article.id for p in pending.values()}, layout.older)
        rejections: list[Rejection] = []
        backoff = self._backoff()
        rounds = 0
        while pending:
            rounds += 1
            body: list[bytes] = []
            ops: list[tuple[int, str]] = []
            for i, item in pending.items():
                doc = item.doc
                assert doc is not None  # only messages that create a document come here
                found = stored.get(doc["id"])
                if found is None:
                    action = {"create": {"_index": layout.write, "_id": doc["id"]}}
                    body += [json_bytes(action), item.source]
                    ops.append((i, "create"))
                elif is_placeholder(found.source):
                    action = {"index": {"_index": found.index, "_id": doc["id"], **found.token}}
                    body += [json_bytes(action), json_bytes(replacing(doc, found.source))]
                    ops.append((i, "index"))
                elif is_newer(doc, found.source):
                    action = {"update": {"_index": found.index, "_id": doc["id"], **found.token}}
                    body += [json_bytes(action), json_bytes({"doc": content_update(doc, now)})]
                    ops.append((i, "update"))
            if not ops:
                break  # everything is there already, as sent or newer
            results = await self._bulk(body)
            retry: dict[int, Prepared] = {}
            reread: set[str] = set()
            busy = False
            for (i, op), entry in zip(ops, results, strict=True):
                result = entry[op]
                status = int(result.get("status", 500))
                doc_id = pending[i].message.article.id
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
                    self._metrics.retried(status_reason(status))
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
            body: list[bytes] = []
            sent: list[tuple[_Coverage, str]] = []
            for u in updates:
                found = stored.get(u.target)
                if found is None:
                    body += [
                        json_bytes({"create": {"_index": layout.write, "_id": u.target}}),
                        json_bytes(placeholder(u.target, u.story_id, u.sources)),
                    ]
                    sent.append((u, "create"))
                    continue
                grown = grown_coverage(found.source.get("coverage"), u.sources)
                if grown is None:
                    continue  # already counted: a replay changes nothing
                body += [
                    json_bytes({"update": {"_index": found.index, "_id": u.target, **found.token}}),
                    json_bytes({"doc": {"coverage": grown}}),
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
                        self._metrics.retried(status_reason(status))
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
            response = await self._retrying(
                "search",
                lambda: self._es.search(
                    index=",".join(searched),
                    query={"ids": {"values": rest}},
                    size=min(10_000, len(rest) * len(searched)),
                    source_includes=_STORED_FIELDS,
                    seq_no_primary_term=True,
                    ignore_unavailable=True,
                    allow_no_indices=True,
                ),
            )
            for hit in response["hits"]["hits"]:
                # The newest copy wins if an id somehow sits in two old indices.
                if hit["_id"] not in found or hit["_index"] > found[hit["_id"]].index:
                    found[hit["_id"]] = Stored(
                        hit["_index"], hit["_seq_no"], hit["_primary_term"], hit["_source"]
                    )
        return found

    async def _mget(self, index: str, ids: list[str]) -> dict[str, Stored]:
        response = await self._retrying(
            "mget", lambda: self._es.mget(index=index, ids=ids, source_includes=_STORED_FIELDS)
        )
        return {
            doc["_id"]: Stored(doc["_index"], doc["_seq_no"], doc["_primary_term"], doc["_source"])
            for doc in response["docs"]
            if doc.get("found")
        }

    async def _retrying(self, operation: str, call: Callable[[], Awaitable[Any]]) -> Any:
        """``call()`` through :func:`retrying`, timed and its retries counted."""
        return await retrying(
            lambda: self._metrics.timed(operation, call),
            self._backoff(),
            on_retry=lambda reason: self._metrics.retried(retry_reason(reason)),
        )

    async def _bulk(self, body: list[bytes]) -> list[dict[str, Any]]:
        """The items of a bulk request of ``body`` (encoded lines), whatever the outage in between.

        A request too large for the server is split in halves; a single
        action too large for it comes back as a 413 item.
        """
        payload = b"\n".join(body) + b"\n"
        actions = len(body) // 2  # every action here has one source line
        try:
            response = await self._retrying("bulk", partial(self._send_bulk, payload, actions))
        except ApiError as exc:
            if exc.meta.status != 413:
                raise
            if actions == 1:
                op = next(iter(orjson.loads(body[0])))
                error = {"type": "request_too_large", "reason": str(exc)[:300]}
                return [{op: {"status": 413, "error": error}}]
            half = (actions // 2) * 2
            log.warning("bulk request too large, splitting", extra={"actions": actions})
            return await self._bulk(body[:half]) + await self._bulk(body[half:])
        items: list[dict[str, Any]] = response["items"]
        return items

    async def _send_bulk(self, payload: bytes, actions: int) -> Any:
        self._metrics.bulk_request(actions, len(payload))
        # The client's NDJSON serializer sends a bytes body as it is; its
        # annotation names only the list-of-dicts form.
        return await self._es.bulk(
            operations=payload,  # type: ignore[arg-type]
            refresh=False,
            filter_path=_BULK_RESPONSE_FIELDS,
        )
