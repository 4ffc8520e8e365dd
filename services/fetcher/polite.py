"""Politeness: robots.txt, per-host concurrency and spacing, slowing down on 429/503.

:class:`PoliteClient` is the fetcher's :class:`~shared.http.HttpClient`: every
request a source or the fetcher makes, redirect hops included, first checks
the host's robots.txt (fetched once, cached) and waits for the host's turn.

Limits hold per worker: two workers that poll sources of one host each keep
their own pace with it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from protego import Protego

from shared.http import FetchError, HttpClient, HttpResponse, retry_after_s

__all__ = ["PoliteClient", "Politeness"]

log = logging.getLogger(__name__)

# Statuses with which a server says "too much, slow down".
_SLOW_DOWN = frozenset({429, 503})
# The first pause after a 429/503 without Retry-After; doubles while they go on.
_FIRST_PENALTY_S = 5.0
# RFC 9309 asks crawlers to read at least 500 KiB of a robots.txt.
_ROBOTS_MAX_BYTES = 512 * 1024
# Hosts and robots files remembered per worker; the least recently used go first.
_MAX_HOSTS = 10_000


@dataclass(frozen=True)
class Politeness:
    """How a worker treats the hosts it fetches from."""

    robots: bool = True
    agent: str = "newsflow"
    robots_ttl_s: float = 24 * 3600.0
    robots_error_ttl_s: float = 600.0
    host_concurrency: int = 2
    host_min_delay_s: float = 1.0
    max_crawl_delay_s: float = 30.0
    max_host_wait_s: float = 20.0
    max_penalty_s: float = 600.0


@dataclass
class _Host:
    semaphore: asyncio.Semaphore
    next_at: float = 0.0  # monotonic time before which no request starts
    penalty_s: float = 0.0
    crawl_delay_s: float = 0.0
    users: int = 0


@dataclass(frozen=True)
class _Robots:
    """A host's robots.txt as last fetched: rules, allow-all or deny-all until ``expires``."""

    expires: float
    parser: Protego | None = None
    deny_all: bool = False
    why: str = ""
    sitemaps: tuple[str, ...] = field(default=())


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.lower()}"


class PoliteClient(HttpClient):
    """An :class:`HttpClient` that obeys robots.txt and paces each host."""

    def __init__(
        self,
        politeness: Politeness,
        *,
        clock: Callable[[], float] = time.monotonic,
        **http: Any,
    ) -> None:
        super().__init__(**http)
        self._polite = politeness
        self._clock = clock
        self._hosts: OrderedDict[str, _Host] = OrderedDict()
        self._robots: OrderedDict[str, _Robots] = OrderedDict()
        self._robots_locks: dict[str, asyncio.Lock] = {}

    async def get(
        self, url: str, headers: dict[str, str] | None = None, *, max_bytes: int | None = None
    ) -> HttpResponse:
        """GET ``url`` within the host's concurrency limit; see :meth:`HttpClient.get`.

        Also raises :class:`FetchError` ``robots-disallowed`` (robots.txt
        forbids the URL), ``robots-unavailable`` (robots.txt unreachable, so
        nothing on the host may be fetched for now) and ``host-throttled``
        (the host's turn is further away than ``max_host_wait_s``; the error
        carries the wait as ``retry_after_s``).
        """
        async with self._slot(_origin(url)):
            return await super().get(url, headers, max_bytes=max_bytes)

    async def before_request(self, url: str) -> None:
        origin = _origin(url)
        if self._polite.robots:
            robots = await self._robots_for(origin)
            if robots.deny_all:
                raise FetchError("robots-unavailable", f"{url}: {robots.why}")
            if robots.parser is not None and not robots.parser.can_fetch(url, self._polite.agent):
                raise FetchError("robots-disallowed", f"{url}: disallowed by robots.txt")
        await self._turn(origin)

    def after_response(self, url: str, status: int, headers: dict[str, str]) -> None:
        host = self._host(_origin(url))
        if status in _SLOW_DOWN:
            asked = retry_after_s(headers)
            penalty = asked if asked is not None else max(host.penalty_s * 2, _FIRST_PENALTY_S)
            host.penalty_s = min(penalty, self._polite.max_penalty_s)
            host.next_at = max(host.next_at, self._clock() + host.penalty_s)
            log.info(
                "host slowed down",
                extra={"host": _origin(url), "status": status, "pause_s": host.penalty_s},
            )
        elif status < 400 and host.penalty_s:
            # The host recovers: halve the pause per good answer.
            host.penalty_s = host.penalty_s / 2 if host.penalty_s > 1 else 0.0

    def robots_sitemaps(self, url: str) -> tuple[str, ...]:
        """The ``Sitemap:`` lines of ``url``'s host robots.txt, if it was fetched."""
        robots = self._robots.get(_origin(url))
        return robots.sitemaps if robots else ()

    def _host(self, origin: str) -> _Host:
        host = self._hosts.get(origin)
        if host is None:
            host = _Host(asyncio.Semaphore(self._polite.host_concurrency))
            self._hosts[origin] = host
            self._forget_idle_hosts()
        else:
            self._hosts.move_to_end(origin)
        return host

    def _forget_idle_hosts(self) -> None:
        now = self._clock()
        for origin in list(self._hosts)[: max(len(self._hosts) - _MAX_HOSTS, 0)]:
            host = self._hosts[origin]
            if host.users == 0 and host.next_at <= now:
                del self._hosts[origin]

    @asynccontextmanager
    async def _slot(self, origin: str) -> AsyncIterator[None]:
        host = self._host(origin)
        host.users += 1
        try:
            async with host.semaphore:
                yield
        finally:
            host.users -= 1

    async def _turn(self, origin: str) -> None:
        """Wait until a request to ``origin`` may start, and claim that moment."""
        host = self._host(origin)
        while True:
            now = self._clock()
            if now >= host.next_at:
                spacing = max(self._polite.host_min_delay_s, host.crawl_delay_s)
                host.next_at = now + spacing
                return
            wait = host.next_at - now
            if wait > self._polite.max_host_wait_s:
                raise FetchError(
                    "host-throttled",
                    f"{origin}: next request allowed in {wait:.0f} s",
                    retry_after_s=wait,
                )
            await asyncio.sleep(wait)

    async def _robots_for(self, origin: str) -> _Robots:
        cached = self._robots.get(origin)
        if cached is not None and cached.expires > self._clock():
            return cached
        lock = self._robots_locks.setdefault(origin, asyncio.Lock())
        async with lock:  # one fetch of a robots.txt however many requests wait for it
            cached = self._robots.get(origin)
            if cached is None or cached.expires <= self._clock():
                cached = await self._fetch_robots(origin)
                self._robots[origin] = cached
                while len(self._robots) > _MAX_HOSTS:
                    self._robots.popitem(last=False)
            self._robots.move_to_end(origin)
        self._robots_locks.pop(origin, None)
        return cached

    async def _fetch_robots(self, origin: str) -> _Robots:
        """RFC 9309: 2xx rules apply; 4xx means no rules; 5xx or no answer means keep off."""
        polite = self._polite
        now = self._clock()
        url = f"{origin}/robots.txt"
        try:
            await self._turn(origin)
            response = await self._get(url, None, max_bytes=_ROBOTS_MAX_BYTES, hooks=False)
        except FetchError as exc:
            if exc.reason in ("blocked-address", "bad-url", "dns"):
                raise  # the page itself would fail the same way; say so
            if exc.reason == "too-large":
                return _Robots(now + polite.robots_ttl_s)
            return _Robots(now + polite.robots_error_ttl_s, deny_all=True, why=f"robots.txt: {exc}")
        if response.status >= 500 or response.status == 429:
            return _Robots(
                now + polite.robots_error_ttl_s,
                deny_all=True,
                why=f"robots.txt answered HTTP {response.status}",
            )
        if response.status >= 400:
            return _Robots(now + polite.robots_ttl_s)
        parser = Protego.parse(response.text())
        delay = parser.crawl_delay(polite.agent)
        if delay is not None:
            host = self._host(origin)
            host.crawl_delay_s = min(float(delay), polite.max_crawl_delay_s)
            # The robots.txt request itself was the last one on this host.
            host.next_at = max(host.next_at, self._clock() + host.crawl_delay_s)
        return _Robots(now + polite.robots_ttl_s, parser=parser, sitemaps=tuple(parser.sitemaps))
