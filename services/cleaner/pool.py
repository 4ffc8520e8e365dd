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
from collections.abc import Callable, Sequence
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Generic, TypeVar

from shared.exceptions import PoisonMessage

__all__ = ["TimeboxedPool"]

log = logging.getLogger(__name__)

A = TypeVar("A")
R = TypeVar("R")


class TimeboxedPool(Generic[A, R]):
    """Runs ``func(arg)`` in ``processes`` child processes, each call capped at ``timeout_s``."""

    def __init__(self, func: Callable[[A], R], processes: int, timeout_s: float) -> None:
        self._func = func
        self._processes = processes
        self._timeout_s = timeout_s
        self._pool = self._new_pool()

    def _new_pool(self) -> concurrent.futures.ProcessPoolExecutor:
        return concurrent.futures.ProcessPoolExecutor(max_workers=self._processes)

    async def warm_up(self, arg: A) -> None:
        """Start the children and import what they need, outside any page's time cap."""
        loop = asyncio.get_running_loop()
        futures = [
            loop.run_in_executor(self._pool, _ignore_errors, self._func, arg)
            for _ in range(self._processes)
        ]
        await asyncio.gather(*futures)

    async def map(self, args: Sequence[A]) -> list[R | BaseException]:
        """``func`` over ``args`` in order: each slot holds a result or the exception raised.

        A call over the cap yields :class:`PoisonMessage` (reason ``timeout``).
        """
        results: list[R | BaseException | None] = [None] * len(args)
        todo = list(range(len(args)))
        while todo:
            pool = self._pool
            loop = asyncio.get_running_loop()
            futures = {i: loop.run_in_executor(pool, self._func, args[i]) for i in todo}
            broken = False
            retry: list[int] = []
            for i, fut in futures.items():
                try:
                    results[i] = await asyncio.wait_for(asyncio.shield(fut), self._timeout_s)
                except TimeoutError:
                    results[i] = PoisonMessage(
                        "timeout", f"extraction took longer than {self._timeout_s:g} s"
                    )
                    broken = True
                    break
                except BrokenProcessPool:
                    retry.append(i)
                    broken = True
                except Exception as exc:  # the function's own failure, kept per page
                    results[i] = exc
            if broken:
                for fut in futures.values():
                    # Futures left behind by the dead pool: retrieve their
                    # errors so asyncio does not report them as lost.
                    fut.add_done_callback(_swallow)
                self._replace_pool()
            done = {i for i, r in enumerate(results) if r is not None}
            todo = [i for i in todo if i not in done]
        return [r for r in results if r is not None]

    def _replace_pool(self) -> None:
        log.warning("replacing extraction pool", extra={"processes": self._processes})
        old = self._pool
        for proc in list(getattr(old, "_processes", {}).values()):
            proc.kill()
        old.shutdown(wait=False, cancel_futures=True)
        self._pool = self._new_pool()

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def _swallow(fut: asyncio.Future[Any]) -> None:
    if not fut.cancelled():
        fut.exception()


def _ignore_errors(func: Callable[[A], R], arg: A) -> None:
    # Warm-up input may be rejected; the imports it caused are what counts.
    with contextlib.suppress(Exception):
        func(arg)
