"""Extraction in child processes, with a time cap per page.

Extraction is CPU-bound; running it in the worker's event loop would starve
the Kafka heartbeats. A page that exceeds the cap cannot be interrupted inside
a thread, so the whole pool is replaced and the pages that shared it are run
again (they were not at fault).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Generic, TypeVar

from shared.exceptions import PoisonMessage

__all__ = ["TimeboxedPool"]

log = logging.getLogger(__name__)

# Crashes of the extraction process while a page was running before the page
# is blamed: one could be bad luck (the OOM killer, an operator), three are not.
_MAX_CRASHES = 3

A = TypeVar("A")
R = TypeVar("R")


class TimeboxedPool(Generic[A, R]):
    """Runs ``func(arg)`` in ``processes`` child processes, each call capped at ``timeout_s``.

    ``on_replace(kind)`` hears of every replacement of the pool, with why
    (``timeout`` or ``broken``), for the worker's error metrics.
    """

    def __init__(
        self,
        func: Callable[[A], R],
        processes: int,
        timeout_s: float,
        on_replace: Callable[[str], None] = lambda kind: None,
    ) -> None:
        self._func = func
        self._processes = processes
        self._timeout_s = timeout_s
        self._on_replace = on_replace
        self._pool = self._new_pool()

    def _new_pool(self) -> concurrent.futures.ProcessPoolExecutor:
        # Children come from a fork server, not a fork of the worker: a forked
        # child would share the worker's event-loop signal wakeup fd, so a
        # SIGTERM the pool sends its children when it breaks would reach the
        # worker's loop as its own and stop the worker. The server preloads
        # the function's module, so children start with it imported.
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload([self._func.__module__])
        return concurrent.futures.ProcessPoolExecutor(
            max_workers=self._processes,
            mp_context=context,
            initializer=_exit_with,
            initargs=(os.getpid(),),
        )

    async def warm_up(self, arg: A) -> None:
        """Start the children and import what they need, outside any page's time cap.

        A pool replaced meanwhile (a page timed out) takes its warm-up with it;
        that is no failure, the next pool warms up on its first pages.
        """
        loop = asyncio.get_running_loop()
        futures = [
            loop.run_in_executor(self._pool, _ignore_errors, self._func, arg)
            for _ in range(self._processes)
        ]
        with contextlib.suppress(BrokenProcessPool, concurrent.futures.CancelledError):
            await asyncio.gather(*futures)

    async def map(self, args: Sequence[A]) -> list[R | BaseException]:
        """``func`` over ``args`` in order: each slot holds a result or the exception raised.

        A call over the cap yields :class:`PoisonMessage` (reason ``timeout``).
        A page that was being extracted each of ``_MAX_CRASHES`` times a child
        died yields :class:`PoisonMessage` (reason ``extractor-crashed``)
        instead of being tried for ever.
        """
        results: list[R | BaseException | None] = [None] * len(args)
        crashes = [0] * len(args)
        todo = list(range(len(args)))
        while todo:
            broken = await self._round(args, todo, results)
            if broken == "crashed":
                self._blame(todo, results, crashes)
            if broken is not None:
                self._replace_pool(broken)
            todo = [i for i in todo if results[i] is None]
        return [r for r in results if r is not None]

    async def _round(
        self, args: Sequence[A], todo: list[int], results: list[R | BaseException | None]
    ) -> str | None:
        """Run ``todo`` on the current pool; why the pool must go, if it must."""
        loop = asyncio.get_running_loop()
        futures: dict[int, asyncio.Future[R]] = {}
        try:
            for i in todo:
                futures[i] = loop.run_in_executor(self._pool, self._func, args[i])
        except BrokenProcessPool:  # it died before this round: no page's fault
            _abandon(futures)
            return "broken"
        for i, fut in futures.items():
            try:
                results[i] = await asyncio.wait_for(asyncio.shield(fut), self._timeout_s)
            except TimeoutError:
                results[i] = PoisonMessage(
                    "timeout", f"extraction took longer than {self._timeout_s:g} s"
                )
                _abandon(futures)
                return "timeout"
            except BrokenProcessPool:
                _abandon(futures)
                return "crashed"
            except Exception as exc:  # the function's own failure, kept per page
                results[i] = exc
        return None

    def _blame(
        self, todo: list[int], results: list[R | BaseException | None], crashes: list[int]
    ) -> None:
        """Count a crash against the pages that were running (the first unfinished ones)."""
        running = [i for i in todo if results[i] is None][: self._processes]
        for i in running:
            crashes[i] += 1
            if crashes[i] >= _MAX_CRASHES:
                results[i] = PoisonMessage(
                    "extractor-crashed", f"the extraction process died {crashes[i]} times on it"
                )

    def _replace_pool(self, why: str) -> None:
        log.warning("replacing extraction pool", extra={"processes": self._processes, "why": why})
        self._on_replace(why)
        old = self._pool
        for proc in list(getattr(old, "_processes", {}).values()):
            proc.kill()
        old.shutdown(wait=False, cancel_futures=True)
        self._pool = self._new_pool()

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


# How often a child checks that its worker still lives.
_PARENT_CHECK_S = 1.0


def _exit_with(worker_pid: int) -> None:
    """Pool initializer: end this child when the worker that uses it is gone.

    A worker killed outright (SIGKILL, the OOM killer) cannot shut its pool
    down, and the children, waiting on their task queue, would outlive it; and
    each holds the fork server alive too. A daemon thread checks the worker's
    pid and ends the child once it is gone.
    """

    def watch() -> None:
        while True:
            time.sleep(_PARENT_CHECK_S)
            try:
                os.kill(worker_pid, 0)
            except ProcessLookupError:
                os._exit(0)
            except PermissionError:  # the pid was reused by another user's process
                os._exit(0)

    threading.Thread(target=watch, name="exit-with-worker", daemon=True).start()


def _abandon(futures: dict[int, asyncio.Future[Any]]) -> None:
    for fut in futures.values():
        # Futures left behind by a dead pool: retrieve their errors so asyncio
        # does not report them as lost.
        fut.add_done_callback(_swallow)


def _swallow(fut: asyncio.Future[Any]) -> None:
    if not fut.cancelled():
        fut.exception()


def _ignore_errors(func: Callable[[A], R], arg: A) -> None:
    # Warm-up input may be rejected; the imports it caused are what counts.
    with contextlib.suppress(Exception):
        func(arg)
