"""systemd's stand-in for the Pactus restart tests on a machine that does not run it.

`systemctl` here knows one unit, whose process is the real pactus-daemon in a working
directory. The pactus-config script runs inside a mount namespace where
/run/systemd/system exists, so it takes its systemd path unchanged. Issue "A real server"
replaces this with systemd itself.
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

from tests.host.pactus_node import WALLET_PASSWORD
from tests.tools import tool

SYSTEMCTL = """#!/bin/bash
# Stand-in systemctl: one unit, {unit}, whose process is pactus-daemon.
unit={unit}
pidfile={state}/pid
args=()
for arg in "$@"; do
  case "$arg" in --quiet|--no-pager|--lines=*) ;; *) args+=("$arg") ;; esac
done
echo "systemctl ${{args[*]}}" >> {state}/calls.log
alive() {{ [ -s "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }}
[ "${{args[1]:-}}" = "$unit" ] || {{ echo "Unit ${{args[1]:-}} could not be found." >&2; exit 1; }}
case "${{args[0]}}" in
  cat) echo "# /etc/systemd/system/$unit" ;;
  restart)
    if alive; then kill "$(cat "$pidfile")"; while alive; do sleep 0.1; done; fi
    setsid {daemon} start -w {workdir} -p {password} >>{state}/daemon.log 2>&1 </dev/null &
    echo $! > "$pidfile" ;;
  is-active) alive ;;
  status) if alive; then echo "* $unit - active (running)"; else echo "* $unit - failed"; fi
          tail -n 5 {state}/daemon.log ;;
  *) echo "stand-in systemctl: ${{args[0]}} is not supported" >&2; exit 1 ;;
esac
"""


class StandInSystemd:
    def __init__(self, state: Path, unit: str, workdir: Path):
        self.state, self.unit = state, unit
        self.bin = state / "bin"
        self.bin.mkdir(parents=True)
        systemctl = self.bin / "systemctl"
        systemctl.write_text(SYSTEMCTL.format(unit=unit, state=state, workdir=workdir, daemon=tool("pactus-daemon"),
                                              password=WALLET_PASSWORD))
        systemctl.chmod(0o755)

    def run_as_root_with_systemd(self, script: str) -> subprocess.CompletedProcess:
        """Runs a script the way it runs on a systemd host: /run/systemd/system present."""
        namespace = "mount -t tmpfs tmpfs /run/systemd && mkdir /run/systemd/system && exec bash -s"
        return subprocess.run(["unshare", "--mount", "bash", "-c", namespace], input=script, capture_output=True,
                              text=True, cwd=Path(__file__).resolve().parents[2],
                              env={**os.environ, "PATH": f"{self.bin}:{os.environ['PATH']}"})

    def systemctl(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(self.bin / "systemctl"), *args, self.unit], capture_output=True, text=True,
                              cwd=Path(__file__).resolve().parents[2])

    def calls(self) -> list[str]:
        log = self.state / "calls.log"
        return log.read_text().splitlines() if log.exists() else []

    def stop(self) -> None:
        pid_file = self.state / "pid"
        if pid_file.exists():
            try:
                os.kill(int(pid_file.read_text()), signal.SIGTERM)
            except ProcessLookupError:
                pass

