"""Extraction in child processes, with a time cap per page.

Extraction is CPU-bound; running it in the worker's event loop would starve
the Kafka heartbeats. A page that exceeds the cap cannot be interrupted inside
the process (the parsers are C and Rust), so its process is killed and
replaced, and the pages queued behind it run in the new one (they were not at
fault).

Each child has a pipe of its own: a batch goes to it as one message, and the
child sends each page's result back as soon as it has it. The cap runs from
the previous result (or the batch's arrival) to this one, which is exactly
the time the child spent on the page. One message per batch instead of a
task per page: ``concurrent.futures.ProcessPoolExecutor`` cost the worker
about 150 µs of CPU per page in queue threads and thread hand-offs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import pickle
import threading
import time
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any, Generic, TypeVar

from shared.exceptions import PoisonMessage

__all__ = ["TimeboxedPool"]

log = logging.getLogger(__name__)

# Crashes of the extraction process while a page was running before the page
# is blamed: one could be bad luck (the OOM killer, an operator), three are not.
_MAX_CRASHES = 3
# Longest wait for a new child to start and run its warm-up page; imports and
# model loading take 1-3 s on a busy host. A child slower than this is replaced.
_START_TIMEOUT_S = 120.0
# How often a child checks that its worker still lives.
_PARENT_CHECK_S = 1.0

A = TypeVar("A")
R = TypeVar("R")

_READY = "ready"
_EOF = object()


class _Child:
    """One extraction process and the worker's end of its pipe."""

    def __init__(self, process: BaseProcess, conn: Connection) -> None:
        self.process = process
        self.conn = conn
        self.inbox: asyncio.Queue[Any] = asyncio.Queue()
        self.ready = False
        self.closed = False
        asyncio.get_running_loop().add_reader(conn.fileno(), self._readable)

    def _readable(self) -> None:
        try:
            while self.conn.poll():
                self.inbox.put_nowait(self.conn.recv())
        except (EOFError, OSError):
            self._closed()
        except Exception as exc:  # a result that cannot be unpickled here
            self.inbox.put_nowait((False, RuntimeError(f"unreadable result: {exc!r}")))

    def _closed(self) -> None:
        self.closed = True
        with contextlib.suppress(Exception):
            asyncio.get_running_loop().remove_reader(self.conn.fileno())
        self.inbox.put_nowait(_EOF)

    async def receive(self, timeout_s: float) -> Any:
        """The child's next message, ``_EOF`` once it is gone; ``TimeoutError`` past the cap."""
        if not self.inbox.empty():
            return self.inbox.get_nowait()
        return await asyncio.wait_for(self.inbox.get(), timeout_s)

    def alive(self) -> bool:
        return not self.closed and self.process.is_alive()

    def stop(self) -> None:
        """Kill the process now and release its pipe."""
        with contextlib.suppress(Exception):
            asyncio.get_running_loop().remove_reader(self.conn.fileno())
        self.process.kill()
        self.process.join(5)
        self.conn.close()
        with contextlib.suppress(ValueError):
            self.process.close()


class TimeboxedPool(Generic[A, R]):
    """Runs ``func(arg)`` in ``processes`` child processes, each call capped at ``timeout_s``.

    Each new child runs ``func(warm_up)`` (errors ignored) before its first
    page, outside any page's cap, so imports and lazy model loading never
    count against a page. ``on_replace(kind)`` hears of every replacement of
    a child, with why (``timeout``, ``crashed``, or ``broken``: it died while
    idle), for the worker's error metrics. Children run ``nice`` steps below
    the worker's CPU priority.
    """

    def __init__(
        self,
        func: Callable[[A], R],
        processes: int,
        timeout_s: float,
        on_replace: Callable[[str], None] = lambda kind: None,
        warm_up: A | None = None,
        nice: int = 0,
    ) -> None:
        self._func = func
        self._nice = nice
        self._processes = processes
        self._timeout_s = timeout_s
        self._on_replace = on_replace
        self._warm_up = warm_up
        self._children: list[_Child | None] = [None] * processes
        self._lock: asyncio.Lock | None = None

    def _spawn(self) -> _Child:
        # Children come from a fork server, not a fork of the worker: a forked
        # child would share the worker's event-loop signal wakeup fd, so a
        # signal sent to it would reach the worker's loop as its own. The
        # server preloads the function's module, so children start with it
        # imported.
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload([self._func.__module__])
        ours, theirs = context.Pipe()
        process = context.Process(
            target=_serve,
            args=(theirs, self._func, self._warm_up, os.getpid(), self._nice),
            name="extraction",
            daemon=True,
        )
        process.start()
        theirs.close()
        return _Child(process, ours)

    async def _ready_child(self, slot: int) -> _Child:
        """The child of ``slot``, started (or replaced, if it died idle) and warmed up."""
        child = self._children[slot]
        if child is not None and not child.alive():
            self._replace(slot, "broken")
            child = None
        while child is None or not child.ready:
            if child is None:
                child = self._children[slot] = self._spawn()
            try:
                message = await child.receive(_START_TIMEOUT_S)
            except TimeoutError:
                message = _EOF
            if message == _READY:
                child.ready = True
            else:
                self._replace(slot, "broken")
                child = None
        return child

    def _replace(self, slot: int, why: str) -> None:
        log.warning("replacing extraction process", extra={"slot": slot, "why": why})
        self._on_replace(why)
        child, self._children[slot] = self._children[slot], None
        if child is not None:
            child.stop()

    def _guard(self) -> asyncio.Lock:
        # Created on first use, inside the worker's running loop.
        if self._lock is None:
            self._lock = asyncio.Lock()
        return self._lock

    async def start(self) -> None:
        """Start every child and wait until each ran its warm-up page."""
        async with self._guard():
            await asyncio.gather(*(self._ready_child(slot) for slot in range(self._processes)))

    async def map(self, args: Sequence[A]) -> list[R | BaseException]:
        """``func`` over ``args`` in order: each slot holds a result or the exception raised.

        A call over the cap yields :class:`PoisonMessage` (reason ``timeout``).
        A page that was being extracted each of ``_MAX_CRASHES`` times a child
        died yields :class:`PoisonMessage` (reason ``extractor-crashed``)
        instead of being tried for ever.
        """
        results: list[Any] = [_EOF] * len(args)
        # Each child takes an even, contiguous share of the batch.
        share = -(-len(args) // self._processes) or 1
        shares = [list(range(i, min(i + share, len(args)))) for i in range(0, len(args), share)]
        async with self._guard():
            await asyncio.gather(
                *(self._run(slot, args, todo, results) for slot, todo in enumerate(shares))
            )
        return results

    async def _run(self, slot: int, args: Sequence[A], todo: list[int], results: list[Any]) -> None:
        """Pages ``todo`` through the child of ``slot``, in order, replacing it when it fails."""
        crashes = 0
        while todo:
            child = await self._ready_child(slot)
            try:
                child.conn.send([args[i] for i in todo])
            except (BrokenPipeError, ConnectionResetError):  # died since: no page's fault
                self._replace(slot, "broken")
                continue
            while todo:
                try:
                    message = await child.receive(self._timeout_s)
                except TimeoutError:
                    results[todo.pop(0)] = PoisonMessage(
                        "timeout", f"extraction took longer than {self._timeout_s:g} s"
                    )
                    crashes = 0
                    self._replace(slot, "timeout")
                    break
                if message is _EOF:
                    crashes += 1
                    if crashes >= _MAX_CRASHES:
                        results[todo.pop(0)] = PoisonMessage(
                            "extractor-crashed",
                            f"the extraction process died {crashes} times on it",
                        )
                        crashes = 0
                    self._replace(slot, "crashed")
                    break
                _, value = message  # a result, or the exception the page raised
                results[todo.pop(0)] = value
                crashes = 0

    def pids(self) -> list[int]:
        """The process ids of the running children."""
        return [c.process.pid for c in self._children if c is not None and c.process.pid]

    def close(self) -> None:
        """Stop every child now."""
        for slot, child in enumerate(self._children):
            if child is not None:
                child.stop()
                self._children[slot] = None


def _serve(
    conn: Connection, func: Callable[[Any], Any], warm_up: Any, worker_pid: int, nice: int
) -> None:
    """A child's life: warm up, then run each batch that comes, one result per page."""
    _exit_with(worker_pid)
    if nice:
        os.nice(nice)
    if warm_up is not None:
        # Warm-up input may be rejected; the imports it caused are what counts.
        with contextlib.suppress(Exception):
            func(warm_up)
    conn.send(_READY)
    while True:
        try:
            batch = conn.recv()
        except (EOFError, OSError):  # the worker closed the pool or is gone
            os._exit(0)
        for arg in batch:
            try:
                reply: tuple[bool, Any] = (True, func(arg))
            except Exception as exc:  # the function's own failure, kept per page
                reply = (False, _portable(exc))
            try:
                conn.send(reply)
            except (pickle.PicklingError, TypeError, AttributeError) as exc:
                conn.send((False, RuntimeError(f"result not picklable: {exc!r}")))
            except (BrokenPipeError, ConnectionResetError):
                os._exit(0)


def _portable(exc: Exception) -> Exception:
    """``exc``, or a plain stand-in if it would not survive the trip to the worker."""
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:
        return RuntimeError(f"{type(exc).__name__}: {exc}")
    return exc


def _exit_with(worker_pid: int) -> None:
    """End this child when the worker that uses it is gone.

    A worker killed outright (SIGKILL, the OOM killer) cannot stop its
    children; an idle child sees its pipe close, but one busy on a page would
    run on, and each holds the fork server alive too. A daemon thread checks
    the worker's pid and ends the child once it is gone.
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
