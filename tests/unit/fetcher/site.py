"""A local HTTP server whose every path can be told how to (mis)behave.

Runs in the test's own event loop on 127.0.0.1 (aiohttp, which Faust brings);
nothing leaves the machine.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def static(
    body: bytes | str = b"", status: int = 200, headers: dict[str, str] | None = None
) -> Handler:
    data = body.encode() if isinstance(body, str) else body

    async def handler(request: web.Request) -> web.StreamResponse:
        return web.Response(body=data, status=status, headers=headers or {})

    return handler


def redirect(to: str, status: int = 302) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        return web.Response(status=status, headers={"Location": to})

    return handler


def drip(total: int = 1000, every_s: float = 1.0, content_type: str = "text/html") -> Handler:
    """One byte per ``every_s``: always within a read timeout, never done."""

    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": content_type})
        response.content_length = total
        await response.prepare(request)
        try:
            for _ in range(total):
                await response.write(b"x")
                await asyncio.sleep(every_s)
        except ConnectionError:
            pass  # the client gave up, as it should
        return response

    return handler


def stall(seconds: float) -> Handler:
    """No answer at all for ``seconds``."""

    async def handler(request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(seconds)
        return web.Response(body=b"late")

    return handler


class Site:
    """Routes by exact path; unknown paths are 404. ``hits`` counts requests per path."""

    def __init__(self) -> None:
        self.routes: dict[str, Handler] = {}
        self.hits: Counter[str] = Counter()
        self.requests: list[web.Request] = []
        self.times: defaultdict[str, list[float]] = defaultdict(list)
        self.base_url = ""
        self._runner: web.AppRunner | None = None

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def route(self, path: str, handler: Handler) -> str:
        self.routes[path] = handler
        return self.url(path)

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        self.hits[request.path_qs] += 1
        self.times[request.path_qs].append(time.time())
        self.requests.append(request)
        handler = self.routes.get(request.path_qs) or self.routes.get(request.path)
        if handler is None:
            return web.Response(status=404, text="not found")
        return await handler(request)

    async def start(self, host: str = "127.0.0.1") -> Site:
        app = web.Application()
        app.router.add_route("GET", "/{tail:.*}", self._dispatch)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.base_url = f"http://{host}:{port}"
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
