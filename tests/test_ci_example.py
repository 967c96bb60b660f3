"""examples/ci: the workflow a fleet outgrows one machine with passes actionlint (tools/build),
pastes no expression into a shell script, and gives the secrets that decrypt every node's key
only to jobs in an environment (a reviewer's approval for a pull request's preview)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from tests.tools import tool

WORKFLOW = Path(__file__).resolve().parents[1] / "examples" / "ci" / "pactus-fleet.yml"
JOBS = yaml.safe_load(WORKFLOW.read_text())["jobs"]


def test_the_fleet_workflow_passes_actionlint():
    result = subprocess.run([tool("actionlint"), str(WORKFLOW)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_up_runs_a_matrix_of_shards_each_in_a_concurrency_group_of_its_own():
    up = JOBS["up"]
    shards = up["strategy"]["matrix"]["shard"]
    assert shards == list(range(1, len(shards) + 1)) and up["env"]["SHARD"] == f"${{{{ matrix.shard }}}}/{len(shards)}"
    assert up["concurrency"]["group"] == f"pactus-fleet-shard-${{{{ matrix.shard }}}}-of-{len(shards)}"
    assert up["steps"][-1]["run"].endswith('--shard "$SHARD"')


def test_the_backend_url_holds_no_password_and_every_job_avoids_the_listing_deadlock():
    for job in JOBS.values():
        assert job["env"]["PGPASSWORD"] == "${{ secrets.PULUMI_STATE_DB_PASSWORD }}"
        assert job["env"]["PULUMI_DIY_BACKEND_PARALLEL"] == "1"


def test_no_script_pastes_an_expression_into_the_shell():
    """A stack file named `$(curl ...).yaml` would be code: names reach scripts as variables."""
    scripts = [step["run"] for job in JOBS.values() for step in job["steps"] if "run" in step]
    assert scripts and all("${{" not in script for script in scripts), scripts


def test_secrets_go_only_to_jobs_in_an_environment():
    workflow = yaml.safe_load(WORKFLOW.read_text())
    assert "env" not in workflow  # nothing at the top, where every job would get it
    for name, job in JOBS.items():
        secrets = [value for value in job.get("env", {}).values() if "secrets." in value]
        assert not secrets or job.get("environment"), name
    assert JOBS["preview"]["environment"] == "fleet-preview" and JOBS["up"]["environment"] == "fleet"
    assert "fleet-preview` must require a reviewer" in WORKFLOW.read_text()
