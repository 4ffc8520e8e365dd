"""What the benchmarks measure besides time: CPU seconds of processes, from /proc.

Kafka and Elasticsearch are found by the port they listen on, so a benchmark
can say how busy they were during a run without knowing how they were started.
"""

from __future__ import annotations

import os
import urllib.request
from dataclasses import dataclass
from pathlib import Path

__all__ = ["CpuMeter", "machine_busy_s", "pid_listening_on", "process_tree", "ready"]

_TICK = os.sysconf("SC_CLK_TCK")


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of one process (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    # Fields after the command: state is [0], utime [11], stime [12].
    return (int(fields[11]) + int(fields[12])) / _TICK


def _parent(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except OSError:
        return None


def process_tree(root: int) -> list[int]:
    """``root`` and every process below it."""
    parents = {int(p): _parent(int(p)) for p in os.listdir("/proc") if p.isdigit()}
    tree = [root]
    for pid in tree:
        tree += [child for child, parent in parents.items() if parent == pid]
    return tree


def pid_listening_on(port: int) -> int | None:
    """The process listening on TCP ``port`` (IPv4 or IPv6), if any."""
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            cols = line.split()
            local, state, inode = cols[1], cols[3], cols[9]
            if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:
                inodes.add(inode)
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            links = [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")]
        except OSError:
            continue
        if any(link.startswith("socket:[") and link[8:-1] in inodes for link in links):
            return int(pid)
    return None


def machine_busy_s() -> float:
    """CPU seconds all cores spent busy since boot (everyone's work, not only ours)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / _TICK


@dataclass
class CpuMeter:
    """CPU seconds a set of named process trees used between :meth:`start` and :meth:`stop`."""

    roots: dict[str, list[int]]

    def _now(self) -> dict[str, float]:
        usage = {
            name: sum(_cpu_s(p) for root in roots for p in process_tree(root))
            for name, roots in self.roots.items()
        }
        usage["machine"] = machine_busy_s()
        return usage

    def start(self) -> None:
        self._started = self._now()

    def stop(self) -> dict[str, float]:
        """CPU seconds per name since :meth:`start`.

        ``machine`` is every process on the host; ``others`` what is left of
        it after the named trees: load this run did not cause.
        """
        end = self._now()
        used = {name: round(end[name] - self._started.get(name, 0.0), 1) for name in end}
        ours = sum(v for k, v in used.items() if k != "machine")
        used["others"] = round(max(used["machine"] - ours, 0.0), 1)
        return used


def ready(port: int | None) -> bool:
    """Whether the worker serving metrics on ``port`` answers ``/readyz`` with 200."""
    if port is None:
        return False
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False
