"""Start and stop newsflow's own processes (stage workers, the demo site) with pid files.

``stop_all`` stops exactly what ``start`` started: it reads the pid files in
the run directory and signals only those processes.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from newsflow.paths import RUN_DIR

__all__ = ["STAGES", "parse_workers", "running", "start", "start_stages", "stop", "stop_all"]

STAGES = ("fetcher", "cleaner", "dedup", "indexer")


def parse_workers(spec: str | None) -> dict[str, int]:
    """``"cleaner=2,dedup=2"`` → a worker count for every stage (default 1)."""
    counts = dict.fromkeys(STAGES, 1)
    for part in filter(None, (spec or "").split(",")):
        stage, _, count = part.partition("=")
        if stage.strip() not in counts or not count.strip().isdigit():
            raise ValueError(f"bad worker count {part!r}: use STAGE=N with STAGE in {STAGES}")
        counts[stage.strip()] = int(count)
    return counts


def _pid_file(name: str, run_dir: Path) -> Path:
    return run_dir / "pids" / f"{name}.pid"


def start(
    name: str, argv: list[str], *, env: dict[str, str] | None = None, run_dir: Path = RUN_DIR
) -> int:
    """Start ``argv`` in the background as ``name``; its output goes to ``logs/<name>.log``."""
    (run_dir / "pids").mkdir(parents=True, exist_ok=True)
    (run_dir / "logs").mkdir(parents=True, exist_ok=True)
    log = open(run_dir / "logs" / f"{name}.log", "ab")  # noqa: SIM115 (the child keeps it)
    proc = subprocess.Popen(
        argv,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
        start_new_session=True,
    )
    _pid_file(name, run_dir).write_text(str(proc.pid))
    return proc.pid


def start_stages(
    workers: dict[str, int], *, env: dict[str, str] | None = None, run_dir: Path = RUN_DIR
) -> list[str]:
    """Start ``workers[stage]`` workers of each stage; returns their names."""
    names = []
    for stage in STAGES:
        for n in range(1, workers.get(stage, 0) + 1):
            name = f"{stage}-{n}"
            if name in running(run_dir):
                continue
            start(name, [sys.executable, "-m", f"services.{stage}"], env=env, run_dir=run_dir)
            names.append(name)
    return names


def running(run_dir: Path = RUN_DIR) -> dict[str, int]:
    """Name → pid of every process with a pid file that is still alive."""
    alive = {}
    for pid_file in sorted((run_dir / "pids").glob("*.pid")):
        pid = int(pid_file.read_text().strip() or 0)
        if pid and _alive(pid):
            alive[pid_file.stem] = pid
    return alive


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stop_all(run_dir: Path = RUN_DIR, timeout_s: float = 15.0) -> list[str]:
    """SIGTERM every recorded process, SIGKILL what is left after ``timeout_s``."""
    names = [f.stem for f in sorted((run_dir / "pids").glob("*.pid"))]
    return stop(names, run_dir, timeout_s)


def stop(names: list[str], run_dir: Path = RUN_DIR, timeout_s: float = 15.0) -> list[str]:
    """Like :func:`stop_all`, for the processes called ``names`` only."""
    stopped = []
    pid_files = [run_dir / "pids" / f"{name}.pid" for name in names]
    pid_files = [f for f in pid_files if f.exists()]
    pids = {}
    for pid_file in pid_files:
        pid = int(pid_file.read_text().strip() or 0)
        if pid and _alive(pid):
            os.killpg(pid, signal.SIGTERM)
            pids[pid_file] = pid
        else:
            pid_file.unlink(missing_ok=True)
    deadline = time.monotonic() + timeout_s
    while pids and time.monotonic() < deadline:
        for pid_file, pid in list(pids.items()):
            if not _alive(pid) or _reap(pid):
                stopped.append(pid_file.stem)
                pid_file.unlink(missing_ok=True)
                del pids[pid_file]
        time.sleep(0.1)
    for pid_file, pid in pids.items():
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
        stopped.append(pid_file.stem)
        pid_file.unlink(missing_ok=True)
    return stopped


def _reap(pid: int) -> bool:
    """Collect a child that exited (when we are its parent); True if it is gone."""
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return False
    return done == pid
