"""Which indices are behind the aliases, and rolling the write index over.

The indexer writes to the concrete index behind the write alias, as last
read, and checks the older indices behind the read alias before creating a
document, so an article indexed before a rollover is not created again after
it. Reading the aliases on every batch would double the requests, so the
layout is cached for a few seconds; a worker that has not yet seen another
worker's rollover keeps writing to the previous index, which is still
writable and still answers its duplicates with 409.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from elasticsearch import AsyncElasticsearch, NotFoundError

from services.indexer.metrics import IndexerMetrics, retry_reason
from services.indexer.retry import Backoff, retrying
from shared.exceptions import NewsflowError

__all__ = [
    "IndexLayout",
    "Layout",
    "LayoutError",
    "layout_from_aliases",
    "managed_by_ilm",
    "read_layout",
    "roll_over",
]

log = logging.getLogger(__name__)


class LayoutError(NewsflowError):
    """The aliases are missing or point nowhere: ``newsflow infra apply`` was not run."""


@dataclass(frozen=True)
class IndexLayout:
    """The write index and the other indices behind the read alias, newest first."""

    write: str
    older: tuple[str, ...] = ()

    @property
    def all(self) -> tuple[str, ...]:
        """Every backing index, the write index first."""
        return (self.write, *self.older)


async def read_layout(es: AsyncElasticsearch, read_alias: str, write_alias: str) -> IndexLayout:
    """The indices behind ``write_alias`` and ``read_alias`` right now."""
    try:
        response = await es.indices.get_alias(name=f"{write_alias},{read_alias}")
    except NotFoundError as exc:
        raise LayoutError(
            f"no index behind {write_alias}/{read_alias}: run `newsflow infra apply`"
        ) from exc
    return layout_from_aliases(dict(response), read_alias, write_alias)


def layout_from_aliases(entries: dict[str, Any], read_alias: str, write_alias: str) -> IndexLayout:
    """The layout an ``indices.get_alias`` answer (index → its aliases) describes."""
    writers = {
        index: entry["aliases"][write_alias].get("is_write_index")
        for index, entry in entries.items()
        if write_alias in entry["aliases"]
    }
    explicit = [index for index, flag in writers.items() if flag]
    if explicit:
        write = explicit[0]
    elif len(writers) == 1:
        write = next(iter(writers))  # one index, no flag: Elasticsearch writes there
    else:
        raise LayoutError(f"{write_alias} has no write index: run `newsflow infra apply`")
    readers = [i for i, entry in entries.items() if read_alias in entry["aliases"] and i != write]
    # Rollover numbers indices with a zero-padded counter, so names sort by age.
    return IndexLayout(write, tuple(sorted(readers, reverse=True)))


class Layout:
    """The cached :class:`IndexLayout` of one pair of aliases."""

    def __init__(
        self,
        es: AsyncElasticsearch,
        read_alias: str,
        write_alias: str,
        *,
        ttl_s: float,
        backoff: Callable[[], Backoff],
        clock: Callable[[], float] = time.monotonic,
        metrics: IndexerMetrics | None = None,
    ) -> None:
        self._es = es
        self._metrics = metrics or IndexerMetrics()
        self._read = read_alias
        self._write = write_alias
        self._ttl_s = ttl_s
        self._backoff = backoff
        self._clock = clock
        self._cached: IndexLayout | None = None
        self._read_at = 0.0

    async def current(self) -> IndexLayout:
        """The layout as read at most ``ttl_s`` ago (waits out outages)."""
        if self._cached is None or self._clock() - self._read_at >= self._ttl_s:
            metrics = self._metrics
            layout = await retrying(
                lambda: metrics.timed(
                    "get_alias", lambda: read_layout(self._es, self._read, self._write)
                ),
                self._backoff(),
                on_retry=lambda reason: metrics.retried(retry_reason(reason)),
            )
            if self._cached is not None and layout.write != self._cached.write:
                log.info("write index changed", extra={"index": layout.write})
            self._cached, self._read_at = layout, self._clock()
        return self._cached

    def invalidate(self) -> None:
        """Forget the cached layout: after a rollover, or when partitions moved here.

        A partition that moves brings messages another worker may already
        have written to a newer index than this worker knows of.
        """
        self._cached = None


async def managed_by_ilm(es: AsyncElasticsearch, index: str) -> bool:
    """Whether ``index`` is under an ILM policy, which then does the rollovers."""
    response = await es.indices.get_settings(index=index, name="index.lifecycle.name")
    # An index without the setting is left out of the answer altogether.
    settings: dict[str, Any] = response.body.get(index, {}).get("settings", {})
    return bool(settings.get("index", {}).get("lifecycle", {}).get("name"))


async def roll_over(
    es: AsyncElasticsearch, write_alias: str, conditions: dict[str, Any]
) -> str | None:
    """Roll ``write_alias`` over to a new index if any of ``conditions`` holds.

    Returns the new index, or None when no condition held. The new index joins
    the read alias through the index template.
    """
    response = await es.indices.rollover(alias=write_alias, conditions=conditions)
    return str(response["new_index"]) if response["rolled_over"] else None
