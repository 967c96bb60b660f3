"""The fleet command leaves the operator's stacks as it found them, with the real CLI on a
file backend: `status` creates no stack, a preview removes the stack it needed, and no run
changes which stack the operator has selected (parallel `stack select`s race, pulumi#8186)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.test_cli_config import pulumi

FLEET = Path("examples/fleet")


def fleet(project_copy: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "fleet", *args, "--project", str(project_copy / FLEET)],
        cwd=project_copy,
        capture_output=True,
        text=True,
        timeout=300,
    )


def stacks(project_copy: Path) -> str:
    """`pulumi stack ls`, whose `*` marks the selected stack."""
    listed = pulumi(project_copy / FLEET, "stack", "ls")
    assert listed.returncode == 0, listed.stderr
    return "\n".join(sorted(line.split()[0] for line in listed.stdout.splitlines()[1:] if line.strip()))


def test_status_creates_no_stack_and_keeps_the_selected_one(project_copy):
    for stack in ("mainnet-node2", "mainnet-node1"):  # the last one made is the one selected
        assert pulumi(project_copy / FLEET, "stack", "init", stack).returncode == 0
    status = fleet(project_copy, "status", "--stacks", "mainnet-node2", "testnet-node1", "--json")
    assert status.returncode == 3, status.stderr  # UNKNOWN: neither can be read
    rows = {row["stack"]: row for row in json.loads(status.stdout)["nodes"]}
    assert rows["testnet-node1"]["result"].startswith("no stack: never deployed")
    assert rows["mainnet-node2"]["result"].startswith("refused: mainnet-node2: pactus-secure:sshPrivateKey")
    assert stacks(project_copy) == "mainnet-node1*\nmainnet-node2"


def test_a_preview_removes_the_stack_it_made_and_keeps_its_file(project_copy):
    assert pulumi(project_copy / FLEET, "stack", "init", "mainnet-node1").returncode == 0
    stack_file = project_copy / FLEET / "Pulumi.testnet-node1.yaml"
    before = stack_file.read_text()
    preview = fleet(project_copy, "preview", "--stacks", "testnet-node1", "mainnet-node1")
    assert preview.returncode == 2 and "nothing was run" in preview.stderr, preview.stderr  # no SSH key set
    assert "testnet-node1: pactus-secure:sshPrivateKey" in preview.stderr
    assert stacks(project_copy) == "mainnet-node1*" and stack_file.read_text() == before
