"""A stand-in for the Pulumi engine and pulumi-command's provider, for the real-host suite.

The Pulumi CLI cannot run here, so this carries out what a deployment registered under
mocks the way they would:
- only `command:remote:Command` resources are expected (anything else fails loudly);
- in dependency order, a Command's `create` runs as the command of an SSH session (so
  in the user's login shell) with `stdin` written to it, over the real ssh client;
- a Command whose inputs are unchanged since the last `up` runs nothing; changed inputs
  run `create` again (no `update` is set); changed `triggers` replace it: the new one's
  `create`, then the old one's `delete`; `destroy` runs `delete`s in reverse order;
- a non-zero exit fails at once, with the command's output in the error;
- the connection's dialErrorLimit and perDialTimeout bound the SSH connection attempts;
  with a hostKey, only a server showing that key is accepted (without one, any key);
- `up(..., interrupt_after=name)` stops the deployment after that step, as a killed
  `pulumi up` would: what ran is in the state, the rest is not.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from dataclasses import dataclass, field

from tests.pulumi_mocks import Deployment, Registration, unsecret

COMMAND = "command:remote:Command"


class RemoteCommandFailed(AssertionError):
    pass


class Interrupted(Exception):
    pass


@dataclass
class Run:
    name: str
    action: str     # create | delete
    output: str
    seconds: float  # wall time of the SSH command, connection included


@dataclass
class Engine:
    state: dict[str, Registration] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)
    log: list[Run] = field(default_factory=list)

    def up(self, deployment: Deployment, interrupt_after: str | None = None) -> list[Run]:
        start = len(self.log)
        commands = _commands(deployment)
        for resource in _dependency_order(commands):
            old = self.state.get(resource.name)
            if old is not None and old.inputs == resource.inputs:
                continue
            self._run(resource, "create")
            if old is not None and old.inputs.get("triggers") != resource.inputs.get("triggers"):
                self._run(old, "delete")
            self.state[resource.name] = resource
            if resource.name not in self.order:
                self.order.append(resource.name)
            if interrupt_after is not None and resource.name.endswith(interrupt_after):
                raise Interrupted(f"interrupted after {resource.name}")
        for name in [n for n in reversed(self.order) if n not in {c.name for c in commands} and n in self.state]:
            self._run(self.state.pop(name), "delete")
        self.order = [c.name for c in _dependency_order(commands)]
        return self.log[start:]

    def destroy(self) -> list[Run]:
        start = len(self.log)
        for name in reversed(self.order):
            self._run(self.state.pop(name), "delete")
        self.order = []
        return self.log[start:]

    def _run(self, resource: Registration, action: str) -> None:
        command = resource.inputs.get(action)
        if command is None:
            return
        connection = unsecret(resource.inputs["connection"])
        stdin = unsecret(resource.inputs.get("stdin")) or ""
        host, port = connection["host"], int(connection["port"])
        with tempfile.TemporaryDirectory() as work:
            key, known_hosts = os.path.join(work, "key"), os.path.join(work, "known_hosts")
            with open(key, "w", opener=lambda path, flags: os.open(path, flags, 0o600)) as file:
                file.write(unsecret(connection["privateKey"]))
            checking = ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null"]
            if connection.get("hostKey"):
                with open(known_hosts, "w") as file:
                    name = host if port == 22 else f"[{host}]:{port}"  # as ssh looks a host up
                    file.write(f"{name} {connection['hostKey']}\n")
                checking = ["-o", "StrictHostKeyChecking=yes", "-o", f"UserKnownHostsFile={known_hosts}"]
            started = time.monotonic()
            result = subprocess.run(
                ["ssh", "-i", key, "-p", str(port), "-o", "BatchMode=yes",
                 "-o", f"ConnectionAttempts={int(connection['dialErrorLimit'])}",
                 "-o", f"ConnectTimeout={int(connection['perDialTimeout'])}", *checking, "-o", "LogLevel=ERROR",
                 f"{connection['user']}@{host}", command],
                input=stdin, capture_output=True, text=True, timeout=600,
            )
        output = result.stdout + result.stderr
        self.log.append(Run(resource.name, action, output, time.monotonic() - started))
        if result.returncode != 0:
            raise RemoteCommandFailed(f"{action} of {resource.name} exited {result.returncode}:\n{output}")


def _commands(deployment: Deployment) -> list[Registration]:
    custom = [r for r in deployment.resources if not r.type.startswith("pactus-secure:index:")]
    unexpected = {r.type for r in custom} - {COMMAND}
    if unexpected:
        raise NotImplementedError(f"the engine stand-in carries out only {COMMAND}, not {sorted(unexpected)}")
    return custom


def _dependency_order(commands: list[Registration]) -> list[Registration]:
    by_urn = {c.urn: c for c in commands}
    done: list[Registration] = []

    def visit(resource: Registration, path: tuple[str, ...] = ()) -> None:
        if resource in done:
            return
        if resource.urn in path:
            raise ValueError(f"dependency cycle through {resource.name}")
        for urn in resource.dependencies:
            if urn in by_urn:
                visit(by_urn[urn], path + (resource.urn,))
        done.append(resource)

    for command in commands:
        visit(command)
    return done
