"""Copies of dead letters in Elasticsearch, so Kibana can count them.

``news.deadletter`` stays the record (with the original bytes, for replay);
the index holds what a dashboard needs: stage, reason, error, origin, time.
Each copy's id is its position in the dead-letter topic, so a redelivery
overwrites the same document.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from elasticsearch import AsyncElasticsearch

from services.indexer.metrics import IndexerMetrics, retry_reason, status_reason
from services.indexer.retry import RETRYABLE_STATUS, Backoff, retrying
from shared.models import DeadLetter

__all__ = ["DeadLetterIndexer", "Letter", "deadletter_document"]

log = logging.getLogger(__name__)

# Longest error kept in the index; the topic has the whole of it.
_MAX_ERROR_CHARS = 4000


@dataclass(frozen=True)
class Letter:
    """A decoded dead letter and where it sits in the dead-letter topic."""

    letter: DeadLetter
    topic: str
    partition: int
    offset: int

    @property
    def doc_id(self) -> str:
        return f"{self.topic}:{self.partition}:{self.offset}"


def deadletter_document(entry: Letter) -> dict[str, Any]:
    """The Elasticsearch document for one dead letter."""
    letter = entry.letter
    return {
        "stage": letter.stage,
        "reason": letter.reason,
        "error": letter.error[:_MAX_ERROR_CHARS],
        "topic": letter.topic,
        "partition": letter.partition,
        "offset": letter.offset,
        "key": letter.key,
        "at": letter.at.isoformat(),
        # base64 length → decoded length, without decoding megabytes.
        "original_bytes": len(letter.original) * 3 // 4 - letter.original[-2:].count("="),
        "deadletter_topic": entry.topic,
        "deadletter_partition": entry.partition,
        "deadletter_offset": entry.offset,
    }


class DeadLetterIndexer:
    """Writes dead-letter copies to one index, waiting out outages."""

    def __init__(
        self,
        es: AsyncElasticsearch,
        index: str,
        *,
        backoff: Callable[[], Backoff] = Backoff,
        metrics: IndexerMetrics | None = None,
    ) -> None:
        self._es = es
        self._index = index
        self._backoff = backoff
        self._metrics = metrics or IndexerMetrics()

    async def index(self, entries: Sequence[Letter]) -> int:
        """Write every entry; returns how many Elasticsearch refused for good (logged)."""
        pending = list(entries)
        refused = 0
        backoff = self._backoff()
        while pending:
            body: list[dict[str, Any]] = []
            for entry in pending:
                body += [{"index": {"_index": self._index, "_id": entry.doc_id}}]
                body += [deadletter_document(entry)]
            retry: list[Letter] = []
            for entry, item in zip(pending, await self._bulk(body), strict=True):
                status = int(item["index"].get("status", 500))
                if status in (200, 201):
                    continue
                if status in RETRYABLE_STATUS:
                    self._metrics.retried(status_reason(status))
                    retry.append(entry)
                    continue
                # A copy that can never be written is not dead-lettered again
                # (that would loop): the letter itself stays in the topic.
                refused += 1
                log.error(
                    "dead letter not indexed",
                    extra={
                        "topic": entry.topic,
                        "partition": entry.partition,
                        "offset": entry.offset,
                        "error": str(item["index"].get("error"))[:500],
                    },
                )
            pending = retry
            if pending:
                await asyncio.sleep(backoff.next_delay())
        return refused

    async def _bulk(self, body: list[dict[str, Any]]) -> list[dict[str, Any]]:
        metrics = self._metrics
        response = await retrying(
            lambda: metrics.timed(
                "bulk_deadletters", lambda: self._es.bulk(operations=body, refresh=False)
            ),
            self._backoff(),
            on_retry=lambda reason: metrics.retried(retry_reason(reason)),
        )
        items: list[dict[str, Any]] = response["items"]
        return items
