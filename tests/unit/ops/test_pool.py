"""The extraction pool survives timeouts and dying children, and blames the right page."""

from __future__ import annotations

import os
import signal
import time

from services.cleaner.pool import TimeboxedPool
from shared.exceptions import PoisonMessage


def _work(arg: str) -> str:
    if arg == "die":
        os._exit(1)  # what a segfault in a parser looks like from outside
    if arg == "slow":
        time.sleep(5)
    if arg == "nap":
        time.sleep(0.4)
    if arg == "bad":
        raise ValueError("bad page")
    return arg.upper()


async def test_results_in_order_with_each_failure_in_its_slot() -> None:
    replaced: list[str] = []
    pool: TimeboxedPool[str, str] = TimeboxedPool(_work, 1, 1.0, on_replace=replaced.append)
    try:
        results = await pool.map(["a", "bad", "slow", "b"])
    finally:
        pool.close()
    assert results[0] == "A" and results[3] == "B"
    assert isinstance(results[1], ValueError)
    assert isinstance(results[2], PoisonMessage) and results[2].reason == "timeout"
    assert replaced == ["timeout"]


async def test_a_page_that_kills_its_process_is_blamed_after_three_crashes() -> None:
    replaced: list[str] = []
    pool: TimeboxedPool[str, str] = TimeboxedPool(_work, 1, 10.0, on_replace=replaced.append)
    try:
        results = await pool.map(["a", "die", "b"])
    finally:
        pool.close()
    assert results[0] == "A" and results[2] == "B"
    assert isinstance(results[1], PoisonMessage) and results[1].reason == "extractor-crashed"
    assert replaced == ["crashed"] * 3


async def test_a_pool_killed_from_outside_is_replaced_without_blame() -> None:
    replaced: list[str] = []
    pool: TimeboxedPool[str, str] = TimeboxedPool(_work, 1, 10.0, on_replace=replaced.append)
    try:
        assert await pool.map(["warm"]) == ["WARM"]
        for pid in pool.pids():
            os.kill(pid, signal.SIGKILL)
        time.sleep(0.5)
        assert await pool.map(["x", "y"]) == ["X", "Y"]
    finally:
        pool.close()
    assert replaced == ["broken"]


def _reject(arg: str) -> str:
    raise PoisonMessage("no-text", f"nothing in {arg}")


async def test_a_rejected_page_keeps_its_reason_and_the_pool() -> None:
    replaced: list[str] = []
    pool: TimeboxedPool[str, str] = TimeboxedPool(_reject, 1, 10.0, on_replace=replaced.append)
    try:
        results = await pool.map(["a"])
    finally:
        pool.close()
    assert isinstance(results[0], PoisonMessage) and results[0].reason == "no-text"
    assert replaced == []


async def test_the_cap_is_per_page_not_per_batch() -> None:
    # A batch goes to the child in one message; each page still gets the whole cap.
    pool: TimeboxedPool[str, str] = TimeboxedPool(_work, 1, 1.0)
    try:
        assert await pool.map(["nap"] * 4) == ["NAP"] * 4
    finally:
        pool.close()


async def test_warm_up_runs_in_each_new_child_outside_the_cap() -> None:
    replaced: list[str] = []
    pool: TimeboxedPool[str, str] = TimeboxedPool(
        _work, 1, 0.3, on_replace=replaced.append, warm_up="nap"
    )
    try:
        assert await pool.map(["a"]) == ["A"]
        results = await pool.map(["slow", "b"])  # the replacement warms up again
    finally:
        pool.close()
    assert isinstance(results[0], PoisonMessage) and results[1] == "B"
    assert replaced == ["timeout"]


async def test_several_children_keep_the_order() -> None:
    pool: TimeboxedPool[str, str] = TimeboxedPool(_work, 2, 10.0)
    try:
        await pool.start()
        assert len(pool.pids()) == 2
        words = [f"w{n}" for n in range(11)]
        results = await pool.map([*words, "bad"])
        assert await pool.map([]) == []
    finally:
        pool.close()
    assert results[:11] == [w.upper() for w in words] and isinstance(results[11], ValueError)


def _niceness(_: str) -> int:
    return os.nice(0)


async def test_children_run_below_the_workers_cpu_priority() -> None:
    pool: TimeboxedPool[str, int] = TimeboxedPool(_niceness, 1, 10.0, nice=3)
    try:
        assert await pool.map(["x"]) == [os.nice(0) + 3]
    finally:
        pool.close()
