"""Steps of two stacks on one host take turns."""

import os
import subprocess
import time

from render import scripts
from render.host_layout import HOST_LOCK_DIR
from testbed.configs import MINIMAL, settings_of


def test_a_step_waits_for_another_stacks_step_on_the_same_host(tmp_path):
    """Two stacks on one host: the second step starts once the first lets go of the host lock."""
    os.makedirs(HOST_LOCK_DIR, mode=0o700, exist_ok=True)
    holder = subprocess.Popen(["flock", f"{HOST_LOCK_DIR}/host.lock", "sleep", "2"])
    try:
        time.sleep(0.3)
        started = time.monotonic()
        result = subprocess.run(
            ["bash", "-s"],
            input=scripts.file_remove_script(settings_of(MINIMAL), str(tmp_path / "absent")),
            capture_output=True,
            text=True,
            timeout=60,
        )
        waited = time.monotonic() - started
    finally:
        holder.wait()
    assert result.returncode == 0, result.stderr
    assert "waiting for another pactus-secure step on this host" in result.stdout and waited > 1
