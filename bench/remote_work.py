"""Remote work per operation, through the real Pulumi CLI and pulumi-command's provider:
wall time and remote commands (SSH sessions sshd accepted) of each operation, on this
machine as the node (the real-host suite's sshd, pebble and pactus-daemon). Needs root,
tools/build's binaries and about two minutes.

The floor is the engine's own cost, measured in the same run with the same CLI: a program
that declares 10 `remote.Command` resources with constant inputs, our program's count.
Then what the state backend costs per operation: the same stack on a file backend and on
PostgreSQL (a cluster of the run's own, over TLS, as a team's shared backend; testbed/postgres.py).

    sudo venv/bin/python -m bench.remote_work
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from testbed.postgres import start_postgres
from testbed.stack import Project
from testbed.this_machine import DOMAIN, nginx_processes, node_stack, this_host_as_the_node, this_machine_as_a_node

FLOOR_PROGRAM = '''"""The engine's floor: 10 remote commands with constant inputs."""
import pulumi
import pulumi_command as command

config = pulumi.Config()
connection = command.remote.ConnectionArgs(
    host="127.0.0.1", port=config.require_int("port"), user="root",
    private_key=config.require_secret("key"), host_key=config.require("hostKey"))
for index in range(10):
    command.remote.Command(f"step-{index}", connection=connection, create="true", add_previous_output_in_env=False)
'''


def floor_project(work: Path, home: Path) -> Project:
    source = work / "floor-source"
    source.mkdir()
    (source / "Pulumi.yaml").write_text(
        "name: floor\nruntime:\n  name: python\n  options:\n    toolchain: pip\n    virtualenv: venv\n"
    )
    (source / "__main__.py").write_text(FLOOR_PROGRAM)
    return Project(work / "floor", home=home, source=source)


class Table:
    """One printed row per operation: its seconds, the SSH sessions sshd accepted during it,
    and whether Nginx was reloaded ("-" where no Nginx ran before it)."""

    def __init__(self, machine):
        self.machine, self.seconds = machine, {}
        print("# remote work through the real CLI; remote commands = SSH sessions sshd accepted")
        print(f"{'operation':<30} {'seconds':>8} {'commands':>9} {'nginx reloaded':>15}")

    def row(self, name: str, operation) -> None:
        before = nginx_processes() if Path("/run/nginx.pid").exists() else None
        sessions, started = self.machine.ssh_sessions(), time.monotonic()
        operation()
        self.seconds[name] = elapsed = time.monotonic() - started
        reloaded = "-" if before is None else "yes" if nginx_processes() != before else "no"
        commands = self.machine.ssh_sessions() - sessions
        print(f"{name:<30} {elapsed:8.2f} {commands:>9} {reloaded:>15}", flush=True)


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="pactus-secure-bench-") as folder:  # removed afterwards, keys and all
        work = Path(folder)
        (work / "machine").mkdir()
        with this_machine_as_a_node(work / "machine") as machine:
            project = Project(work / "program")
            listens = machine.node.loopback_listens()  # where the running node answers: no restart needed

            def config(domain=DOMAIN, origins=("https://wallet.example.com",)):
                return this_host_as_the_node(
                    machine,
                    domain,
                    machine.pactus_dir,
                    grpc={"listen": listens["grpc"]},
                    http={"enable": True, "listen": listens["http"]},
                    jsonrpc={"enable": True, "listen": listens["jsonrpc"], "origins": list(origins)},
                )

            table = Table(machine)
            stack = node_stack(project, "bench", config(), machine)
            table.row("preview (fresh stack)", stack.preview)
            table.row("fresh up", stack.up)
            table.row("no-op up", stack.up)
            stack.configure(config(origins=("https://explorer.example.com",)))
            table.row("origins change", stack.up)
            stack.configure(config(domain="renamed.test"))
            table.row("domain change (preview)", stack.preview)
            stack.configure(config())
            table.row("destroy", stack.destroy)
            floor_rows(table, floor_project(work, project.home), machine)
            ratio = table.seconds["no-op up"] / table.seconds["floor: no-op up"]
            print(f"\nno-op up / floor's no-op up: {ratio:.2f}x (manageDns false)")
            backend_cost(work, machine, config)
            started = time.monotonic()
            subprocess.run([sys.executable, "-c", "import pulumi_cloudflare"], check=True)
            print(
                f"importing pulumi_cloudflare, which manageDns true adds to every run: "
                f"{time.monotonic() - started:.2f} s (its provider cannot be built here, so no up with it)"
            )


def floor_rows(table: Table, floor: Project, machine) -> None:
    """The engine's own cost: 10 remote commands with constant inputs, fresh and no-op."""
    floor_stack = floor.stack(
        "floor",
        {"floor:port": str(machine.ssh_port), "floor:hostKey": machine.host_key},
        {"floor:key": machine.client_key},
    )
    table.row("floor: fresh up (10 commands)", floor_stack.up)
    table.row("floor: no-op up", floor_stack.up)
    floor_stack.destroy()


def backend_cost(work: Path, machine, config) -> None:
    """Each operation on a file backend and on PostgreSQL, one after the other, same stack;
    a no-op up is the median of three."""
    database = start_postgres()
    seconds: dict[str, dict[str, float]] = {}
    try:
        for backend in ("file", "postgres"):
            project = Project(work / f"backend-{backend}")
            if backend == "postgres":
                project.environment = {**project.environment, **database.environment}
            stack = node_stack(project, f"cost-{backend}", config(), machine)
            seconds[backend] = {
                "preview (fresh stack)": _timed(stack.preview),
                "fresh up": _timed(stack.up),
                "no-op up": statistics.median(_timed(stack.up) for _ in range(3)),
                "destroy": _timed(stack.destroy),
            }
    finally:
        database.stop()
    print("\n# the state backend's cost per operation (same stack, same machine)")
    print(f"{'operation':<24} {'file s':>8} {'postgres s':>11} {'postgres - file':>16}")
    for operation, file_seconds in seconds["file"].items():
        postgres_seconds = seconds["postgres"][operation]
        print(f"{operation:<24} {file_seconds:8.2f} {postgres_seconds:11.2f} {postgres_seconds - file_seconds:+16.2f}")


def _timed(operation) -> float:
    started = time.monotonic()
    operation()
    return time.monotonic() - started


if __name__ == "__main__":
    main()
