"""A worker restarted in place runs the same command again, as the same process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO

_MODULE = """
import os, sys
from shared.kafka import restart_in_place

runs = int(os.environ.get("RUNS", "0")) + 1
print(f"run {runs} pid {os.getpid()} args {sys.argv[1:]}", flush=True)
if runs < 3:
    os.environ["RUNS"] = str(runs)
    restart_in_place()
"""


def test_restart_in_place_reruns_the_module_with_its_arguments(tmp_path: Path) -> None:
    (tmp_path / "restartme.py").write_text(_MODULE)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(REPO)])}
    env.pop("RUNS", None)
    proc = subprocess.run(
        [sys.executable, "-m", "restartme", "--flag", "x"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    lines = proc.stdout.splitlines()
    assert [line.split(" pid ")[0] for line in lines] == ["run 1", "run 2", "run 3"]
    assert len({line.split(" pid ")[1].split()[0] for line in lines}) == 1  # one process
    assert all(line.endswith("args ['--flag', 'x']") for line in lines)
