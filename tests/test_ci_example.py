"""examples/ci: the workflow a fleet outgrows one machine with passes actionlint (tools/build)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from tests.tools import tool

WORKFLOW = Path(__file__).resolve().parents[1] / "examples" / "ci" / "pactus-fleet.yml"


def test_the_fleet_workflow_passes_actionlint():
    result = subprocess.run([tool("actionlint"), str(WORKFLOW)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_each_node_has_a_concurrency_group_of_its_own_and_secrets_come_from_the_store():
    workflow = yaml.safe_load(WORKFLOW.read_text())
    up = workflow["jobs"]["up"]
    assert up["concurrency"]["group"] == "pactus-node-${{ matrix.stack }}" and up["strategy"]["matrix"]["stack"]
    assert all(value.startswith("${{ secrets.") for value in workflow["env"].values())
