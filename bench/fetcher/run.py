"""Fetcher benchmark: 1,000 feeds of 20 items and their pages, served on loopback.

Drives ``poll_source()`` with the fetcher's own HTTP client (address guard,
bounded decoding, robots.txt, host pacing) against a local server running
in another process, without Kafka: it measures the fetching core, not the
broker. Per-host limits are lifted (every feed is on one host here, where
production has hundreds of hosts).

Prints, for one worker and for two (each a process with half the feeds):
items/s and pages/s on a first pass (everything new), CPU seconds per 1,000
pages, and on a second pass (nothing changed) the share of 304s and its CPU
time against the first pass's.

    .venv/bin/python -m bench.fetcher.run [--feeds 1000] [--items 20]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import resource
import socket
import time
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from services.fetcher.app import http_client
from services.fetcher.fetch import poll_source
from services.fetcher.settings import FetcherSettings
from shared.models import FeedSource
from shared.settings import CommonSettings

# Polls in flight per worker, two pages each. Chosen when the client ran on
# httpcore, whose pool got slower per request as connections grew (87 req/s at
# 128 connections against 330 at 8 on this loopback); kept so runs compare.
CONCURRENT_POLLS = 8
PARAGRAPH = "<p>" + "Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 12 + "</p>"
PAGE = (
    "<!DOCTYPE html><html><head><meta charset='utf-8'><title>Story {n}</title></head><body>"
    "<header><nav>Home Local Weather</nav></header><main><article><h1>Story {n}</h1>"
    + PARAGRAPH * 10
    + "</article></main><footer>© Bench</footer></body></html>"
)


def _feed(base: str, feed: int, items: int) -> bytes:
    entries = "".join(
        f"<item><title>Story {feed}-{i}</title><link>{base}/p/{feed}/{i}</link>"
        f"<guid>{base}/p/{feed}/{i}</guid></item>"
        for i in range(items)
    )
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>Feed {feed}</title>'
        f"{entries}</channel></rss>"
    ).encode()


def serve(port: int, items: int, ready: Any) -> None:
    """The local site: feeds with ETags (answering 304 when matched) and their pages."""

    async def feed(request: web.Request) -> web.Response:
        n = int(request.match_info["n"])
        etag = f'"f{n}"'
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers={"ETag": etag})
        body = _feed(f"http://127.0.0.1:{port}", n, items)
        return web.Response(body=body, content_type="application/rss+xml", headers={"ETag": etag})

    async def page(request: web.Request) -> web.Response:
        text = PAGE.format(n=f"{request.match_info['f']}-{request.match_info['i']}")
        return web.Response(text=text, content_type="text/html")

    app = web.Application()
    app.router.add_get("/f/{n}.xml", feed)
    app.router.add_get("/p/{f}/{i}", page)
    ready.set()
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


@dataclass
class Pass:
    wall_s: float = 0.0
    cpu_s: float = 0.0
    polls: int = 0
    not_modified: int = 0
    items: int = 0
    pages: int = 0
    errors: int = 0


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _two_passes(port: int, feeds: list[int]) -> tuple[Pass, Pass]:
    settings = FetcherSettings(
        common=CommonSettings(),
        allow_hosts=["127.0.0.1"],
        host_concurrency=CONCURRENT_POLLS * 2,
        host_min_delay_s=0,
        item_concurrency=2,
        max_connections=CONCURRENT_POLLS * 2,
        jitter=0,
    )
    http = http_client(settings)
    sources = [
        FeedSource(id=f"f{n}", kind="rss", url=f"http://127.0.0.1:{port}/f/{n}.xml") for n in feeds
    ]
    states: dict[str, Any] = {}
    seen: dict[str, list[str] | None] = {}
    gate = asyncio.Semaphore(CONCURRENT_POLLS)
    passes = []
    for _ in range(2):
        result = Pass()

        async def one(source: FeedSource, result: Pass = result) -> None:
            async with gate:
                out = await poll_source(
                    source, states.get(source.id), http, settings, seen=seen.get(source.id)
                )
            states[source.id] = out.state
            if out.seen is not None:
                seen[source.id] = out.seen
            result.polls += 1
            result.not_modified += bool(out.state.get("not_modified"))
            result.items += len(out.articles) + len(out.item_errors)
            result.pages += len(out.articles)
            result.errors += len(out.item_errors) + (out.source_error is not None)

        cpu, wall = _cpu(), time.perf_counter()
        await asyncio.gather(*(one(s) for s in sources))
        result.wall_s, result.cpu_s = time.perf_counter() - wall, _cpu() - cpu
        passes.append(result)
    await http.aclose()
    return passes[0], passes[1]


def _worker(port: int, feeds: list[int], out: Any) -> None:
    out.put(asyncio.run(_two_passes(port, feeds)))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run(port: int, feeds: int, workers: int) -> tuple[Pass, Pass]:
    queue: Any = mp.Queue()
    shares = [list(range(feeds))[w::workers] for w in range(workers)]
    procs = [mp.Process(target=_worker, args=(port, share, queue)) for share in shares]
    for proc in procs:
        proc.start()
    results = [queue.get() for _ in procs]
    for proc in procs:
        proc.join()
    first, second = Pass(), Pass()
    for a, b in results:
        for total, part in ((first, a), (second, b)):
            total.wall_s = max(total.wall_s, part.wall_s)  # the workers run side by side
            total.cpu_s += part.cpu_s
            for name in ("polls", "not_modified", "items", "pages", "errors"):
                setattr(total, name, getattr(total, name) + getattr(part, name))
    return first, second


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--items", type=int, default=20)
    args = parser.parse_args()
    port = _free_port()
    ready = mp.Event()
    server = mp.Process(target=serve, args=(port, args.items, ready), daemon=True)
    server.start()
    ready.wait(10)
    time.sleep(1)  # the server binds after signalling
    try:
        for workers in (1, 2):
            first, second = _run(port, args.feeds, workers)
            print(
                f"{workers} worker(s): first pass {first.wall_s:.1f} s, "
                f"{first.items / first.wall_s:.0f} items/s, "
                f"{first.pages / first.wall_s:.0f} pages/s, "
                f"{first.cpu_s / max(first.pages, 1) * 1000:.2f} CPU s per 1,000 pages "
                f"({first.pages} pages, {first.errors} errors)"
            )
            print(
                f"{workers} worker(s): second pass {second.wall_s:.1f} s, "
                f"{second.not_modified / max(second.polls, 1):.1%} 304s, "
                f"CPU {second.cpu_s:.2f} s = {second.cpu_s / max(first.cpu_s, 1e-9):.1%} "
                f"of the first pass ({second.pages} pages)"
            )
    finally:
        server.terminate()
        server.join(5)


if __name__ == "__main__":
    main()
