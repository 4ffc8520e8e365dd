"""The extraction pool's children do not outlive a worker killed outright."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from tests.helpers import REPO, wait_for

# A stand-in worker: starts a pool, warms it up, prints its children's pids, waits.
_WORKER = """
import asyncio, sys, time
from services.cleaner.pool import TimeboxedPool

async def main():
    pool = TimeboxedPool(len, 2, 5.0, warm_up="x")
    await pool.start()
    print(" ".join(str(p) for p in pool.pids()), flush=True)
    time.sleep(600)

asyncio.run(main())
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is gone for our purpose; it waits only for its parent to reap it.
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_children_exit_when_their_worker_is_killed() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", _WORKER], cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        children = [int(pid) for pid in proc.stdout.readline().split()]
        assert len(children) == 2 and all(_alive(pid) for pid in children)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        assert wait_for(lambda: not any(_alive(pid) for pid in children), 15), children
    finally:
        if proc.poll() is None:
            proc.kill()
