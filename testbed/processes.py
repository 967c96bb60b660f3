"""Processes the testbed starts: is one alive, and stopping one cleanly."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path


def pid_alive(pid_file: str | Path) -> bool:
    """The process a pid file names runs. A file `remember` wrote also names when it started:
    after a reboot its pid may be another process's, which is not it. A zombie has ended: a
    daemon this machine's init has not reaped yet (crond, after its SIGTERM) is not running."""
    try:
        pid, *started = Path(pid_file).read_text().split()
        os.kill(int(pid), 0)
    except (OSError, ValueError):
        return False
    start = _start_time(int(pid))
    return start != "ended" and (not started or started == [start])


def remember(pid_file: Path, process: subprocess.Popen) -> None:
    """A pid file for a process this machine started, with its start time (see pid_alive)."""
    pid_file.write_text(f"{process.pid} {_start_time(process.pid)}\n")


def _start_time(pid: int) -> str:
    """When the process started, in clock ticks since boot (/proc/<pid>/stat, field 22);
    "ended" for a process that is gone or a zombie."""
    try:
        state, *fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return "ended" if state == "Z" else fields[18]
    except (OSError, IndexError):
        return "ended"


def terminate(process: subprocess.Popen | None, timeout: float) -> None:
    """SIGTERM, a wait for a clean exit, then SIGKILL."""
    if process is not None and process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
