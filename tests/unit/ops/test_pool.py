"""The extraction pool survives timeouts and dying children, and blames the right page."""

from __future__ import annotations

import os
import time

from services.cleaner.pool import TimeboxedPool
from shared.exceptions import PoisonMessage


def _work(arg: str) -> str:
    if arg == "die":
        os._exit(1)  # what a segfault in a parser looks like from outside
    if arg == "slow":
        time.sleep(5)
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
    pool: TimeboxedPool[str, str] = TimeboxedPool(_work, 1, 10.0)
    try:
        assert await pool.map(["warm"]) == ["WARM"]
        for proc in list(pool._pool._processes.values()):  # type: ignore[attr-defined]
            proc.kill()
        time.sleep(0.5)
        assert await pool.map(["x", "y"]) == ["X", "Y"]
    finally:
        pool.close()


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
