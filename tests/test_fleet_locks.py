"""`fleet unlock` removes a lock whose holder is gone, and keeps a live run's; the row of a
stack another run holds says who holds it, from Pulumi's own message."""

from __future__ import annotations

import json
import socket
import subprocess
import time
from pathlib import Path

import pytest
from pulumi import automation as auto
from pulumi.automation._cmd import CommandResult

from fleet import locks, run

PREFIX = f"{locks.LOCKS}/pactus-secure/node1"


def lock_file(root: Path, name: str, *, hostname: str, pid: int) -> Path:
    """A lock as Pulumi's DIY backend writes it (pkg/backend/diy/lock.go)."""
    path = root / PREFIX / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    fields = {"pid": pid, "username": "root", "hostname": hostname, "timestamp": "2026-12-03T19:00:00Z"}
    path.write_text(json.dumps(fields))
    return path


@pytest.fixture
def live_pulumi():
    """A process of this machine whose command line names pulumi, as a running CLI's does.
    Yielded once bash has exec'd sleep: while the kernel execs, /proc's cmdline reads empty
    (CI once read it in that instant, and the lock looked dead)."""
    process = subprocess.Popen(["bash", "-c", "exec -a pulumi sleep 60"])
    cmdline = Path(f"/proc/{process.pid}/cmdline")
    deadline = time.monotonic() + 10
    while cmdline.read_bytes() != b"pulumi\x0060\x00":
        assert time.monotonic() < deadline, cmdline.read_bytes()
        time.sleep(0.01)
    yield process.pid
    process.kill()
    process.wait()


def test_a_dead_runs_lock_goes_and_a_live_ones_stays(tmp_path, live_pulumi):
    dead = subprocess.Popen(["true"])
    dead.wait()
    gone = lock_file(tmp_path, "a", hostname=socket.gethostname(), pid=dead.pid)
    alive = lock_file(tmp_path, "b", hostname=socket.gethostname(), pid=live_pulumi)
    whole, said = locks.unlock(locks.backend_for(f"file://{tmp_path}"), "pactus-secure", "node1", holder_gone=True)
    assert not whole and not gone.exists() and alive.exists()
    assert f"removed the lock of root@{socket.gethostname()} (pid {dead.pid})" in said
    assert f"kept the lock of root@{socket.gethostname()} (pid {live_pulumi}) since 2026-12-03T19:00:00Z" in said


def test_another_machines_lock_goes_only_when_the_operator_says_its_run_is_gone(tmp_path):
    other = lock_file(tmp_path, "c", hostname="ci-runner-7", pid=4242)
    backend = locks.backend_for(f"file://{tmp_path}?metadata=skip")
    whole, said = locks.unlock(backend, "pactus-secure", "node1", holder_gone=False)
    assert not whole and other.exists() and "run again with --holder-gone" in said
    assert locks.unlock(backend, "pactus-secure", "node1", holder_gone=True)[0] and not other.exists()
    assert locks.unlock(backend, "pactus-secure", "node1", holder_gone=False) == (True, "node1: no lock")


def test_a_backend_unlock_cannot_read_is_named_with_what_to_do():
    with pytest.raises(ValueError, match="aws s3 rm"):
        locks.backend_for("s3://team-state")
    with pytest.raises(ValueError, match="no plain table name"):
        locks.backend_for("postgres://u@db/pulumi?table=x;drop")


def test_a_stack_held_by_another_run_says_who_holds_it_since_when():
    message = (
        "error: the stack is currently locked by 1 lock(s). Either wait for the other process(es) to end or "
        "delete the lock file with `pulumi cancel`.\n  postgres://****:****@db/.pulumi/locks/organization/"
        "pactus-secure/node1/1f.json: created by root@ci-runner-2 (pid 311) at 2026-12-03T19:04:05Z"
    )
    reason = run._reason(auto.CommandError(CommandResult(stdout="", stderr=message, code=255)))
    assert reason.startswith("the stack is currently locked by root@ci-runner-2 (pid 311) at 2026-12-03T19:04:05Z")
