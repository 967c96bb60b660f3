"""Processes the testbed starts: is one alive, and stopping one cleanly."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path


def pid_alive(pid_file: str | Path) -> bool:
    """The process a pid file names runs."""
    try:
        os.kill(int(Path(pid_file).read_text()), 0)
        return True
    except (OSError, ValueError):
        return False


def terminate(process: subprocess.Popen | None, timeout: float) -> None:
    """SIGTERM, a wait for a clean exit, then SIGKILL."""
    if process is not None and process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
