"""Stopping some of newsflow's processes, as reprocessing stops its own set."""

from __future__ import annotations

import sys
from pathlib import Path

from newsflow.procs import running, start, stop, stop_all


def test_stopping_some_processes_leaves_the_others(tmp_path: Path) -> None:
    keep = start("keep", [sys.executable, "-c", "import time; time.sleep(60)"], run_dir=tmp_path)
    start("go", [sys.executable, "-c", "import time; time.sleep(60)"], run_dir=tmp_path)
    try:
        assert stop(["go"], tmp_path, timeout_s=5) == ["go"]
        assert stop([], tmp_path, timeout_s=5) == []
        assert running(tmp_path) == {"keep": keep}
    finally:
        stop_all(tmp_path, timeout_s=5)
