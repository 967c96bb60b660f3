"""Remote work per operation: what each `pulumi up` asks of the host.

Two counts:
- from the registered resources (Pulumi mocks): how many remote commands a configuration
  registers, and how many of them a given change re-runs;
- from this machine as the node (the real-host suite's sshd, pebble and Pactus node,
  commands carried out over real SSH by tests/host/engine.py): commands run, seconds
  (SSH connection included) and whether Nginx reloaded, for a fresh deploy, an unchanged
  redeploy, a redeploy that forgot its state, an origins change, a certificate renewal
  and a destroy. Needs root; about a minute.

    sudo venv/bin/python bench/remote_work.py
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.host.conftest import DOMAIN, nginx_processes, this_host_as_the_node, this_machine_as_a_node  # noqa: E402
from tests.host.engine import Engine  # noqa: E402
from tests.pulumi_mocks import BASIC_AUTH, FULL, MINIMAL, deploy  # noqa: E402

COMMAND = "command:remote:Command"
PINNED = {**FULL, "sshHostKey": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGhostkey"}  # as a careful operator sets it
CHANGES = {
    "jsonrpc.origins": {"jsonrpc": {**FULL["jsonrpc"], "origins": ["https://other.example.com"]}},
    "acmeEmail": {"acmeEmail": "security@example.com"},
    "html.enable": {"html": {"enable": True}},
    "rateLimit": {"rateLimit": {"requestsPerSecond": 50}},
    "host": {"host": "203.0.113.11"},
    "domain": {"domain": "node9.example.com"},
}


def registered() -> None:
    print("## registered remote commands (mocks)")
    print(f"{'configuration':<34} {'commands':>8}")
    for name, config, kwargs in (("minimal", {**MINIMAL, "sshHostKey": PINNED["sshHostKey"]}, {}),
                                 ("full", PINNED, {}),
                                 ("full + firewall + basic auth", {**PINNED, "firewall": "true"},
                                  {"basic_auth": BASIC_AUTH})):
        print(f"{name:<34} {len(deploy(config, **kwargs).of_type(COMMAND)):>8}")
    before = {r.name: r.inputs for r in deploy(PINNED).of_type(COMMAND)}
    print(f"\n{'change (from full)':<34} {'re-run':>8}  which (replaced: its triggers changed)")
    for name, override in CHANGES.items():
        after = {r.name: r.inputs for r in deploy({**PINNED, **override}).of_type(COMMAND)}
        rerun = sorted(step for step in after if json.dumps(before.get(step), sort_keys=True) !=
                       json.dumps(after[step], sort_keys=True))
        which = [f"{step} (replaced)" if before.get(step, {}).get("triggers") != after[step].get("triggers") else step
                 for step in rerun]
        print(f"{name:<34} {len(rerun):>8}  {', '.join(which) or '-'}")


def measured() -> None:
    print("\n## on this machine as the node (real SSH)")
    print(f"{'operation':<28} {'commands':>8} {'seconds':>8} {'nginx reloaded':>15}")
    with this_machine_as_a_node(Path(tempfile.mkdtemp(prefix="pactus-secure-bench-"))) as machine:
        def config(origins=("https://wallet.example.com",)):
            return deploy(this_host_as_the_node(machine, DOMAIN, machine.pactus_dir,
                                                jsonrpc={"enable": True, "origins": list(origins)},
                                                http={"enable": True}),
                          ssh_key=machine.client_key, cloudflare_token=None)

        def row(name, operation):
            before = nginx_processes() if Path("/run/nginx.pid").exists() else None
            started = time.monotonic()
            runs = operation()
            elapsed = time.monotonic() - started
            reloaded = before is None or nginx_processes() != before
            count = len(runs) if isinstance(runs, list) else "-"  # not a deployment: no step runs
            print(f"{name:<28} {count:>8} {elapsed:8.2f} {'yes' if reloaded else 'no':>15}")

        engine = Engine()
        row("fresh deploy", lambda: engine.up(config()))
        row("unchanged redeploy", lambda: engine.up(config()))
        row("redeploy, state forgotten", lambda: Engine().up(config()))
        row("origins change", lambda: engine.up(config(origins=("https://explorer.example.com",))))
        row("certificate renewal", lambda: subprocess.run(
            ["certbot", "renew", "--force-renewal", "--cert-name", DOMAIN, "--non-interactive",
             "--no-random-sleep-on-renew"], env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
                                                 "REQUESTS_CA_BUNDLE": str(machine.pebble_api_ca)},
            check=True, capture_output=True))
        row("destroy", engine.destroy)


if __name__ == "__main__":
    registered()
    measured()
