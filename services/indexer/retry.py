"""Telling "Elasticsearch is down or busy" from "this request is wrong", and waiting it out.

Every call the indexer makes goes through :func:`retrying`: connection errors,
timeouts, 408, 429 and 5xx are retried with exponential backoff and jitter for
as long as they last; anything else is raised at once.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from elastic_transport import ConnectionError as TransportConnectionError
from elastic_transport import ConnectionTimeout
from elasticsearch import ApiError, TransportError

__all__ = ["RETRYABLE_STATUS", "Backoff", "retrying", "transient_reason"]

log = logging.getLogger(__name__)

T = TypeVar("T")

# HTTP statuses (of a whole response or of one bulk item) that mean "the
# cluster is busy or broken right now", never "this document is wrong".
RETRYABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})


@dataclass
class Backoff:
    """Exponential backoff with jitter: each delay is drawn from [ceiling/2, ceiling].

    The ceiling doubles per attempt up to ``max_s``; the random half keeps
    workers that failed together from retrying together.
    """

    initial_s: float = 0.5
    max_s: float = 30.0
    attempt: int = 0

    def next_delay(self) -> float:
        """The delay before the next attempt; each call counts one attempt."""
        ceiling = min(self.max_s, self.initial_s * (2 ** min(self.attempt, 32)))
        self.attempt += 1
        return random.uniform(ceiling / 2, ceiling)

    def reset(self) -> None:
        """Start again from the first delay (after a success)."""
        self.attempt = 0


def transient_reason(exc: BaseException) -> str | None:
    """A short reason code if ``exc`` means "try again later", else None."""
    if isinstance(exc, ConnectionTimeout):
        return "timeout"
    if isinstance(exc, TransportConnectionError):
        return "connection"
    if isinstance(exc, ApiError):
        return f"status-{exc.meta.status}" if exc.meta.status in RETRYABLE_STATUS else None
    if isinstance(exc, TransportError):
        return "transport"
    return None


async def retrying(
    call: Callable[[], Awaitable[T]],
    backoff: Backoff,
    on_retry: Callable[[str], None] = lambda reason: None,
) -> T:
    """The result of ``await call()``, retried for as long as the failures are transient.

    Never gives up on a transient failure; raises anything else unchanged.
    """
    while True:
        try:
            result = await call()
        except Exception as exc:
            reason = transient_reason(exc)
            if reason is None:
                raise
            delay = backoff.next_delay()
            log.warning(
                "elasticsearch unavailable, retrying",
                extra={"reason": reason, "error": str(exc)[:300], "retry_in_s": round(delay, 2)},
            )
            on_retry(reason)
            await asyncio.sleep(delay)
            continue
        backoff.reset()
        return result
