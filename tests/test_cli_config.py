"""The real Pulumi CLI (tools/build) on the project's config declarations and the example
fleet: it validates a stack's config against Pulumi.yaml before it starts the program,
then `pulumi preview` runs the program for real (no host is reached by a preview).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from testbed.credentials import SSH_KEY
from tests.tools import tool

ROOT = Path(__file__).resolve().parents[1]
PREVIEWED = "to create"  # the summary of a preview that ran the program


def pulumi(folder: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [tool("pulumi"), "--non-interactive", *args],
        cwd=folder,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def new_stack(folder: Path, stack: str, **plain: str) -> None:
    assert pulumi(folder, "stack", "init", stack).returncode == 0
    for key, value in plain.items():
        assert pulumi(folder, "config", "set", key, value).returncode == 0
    assert pulumi(folder, "config", "set", "--secret", "sshPrivateKey", stdin=SSH_KEY).returncode == 0


def test_the_cli_is_the_pinned_version():
    version = subprocess.run([tool("pulumi"), "version"], capture_output=True, text=True, check=True).stdout.strip()
    pinned = subprocess.run(
        ["go", "list", "-m", "-f", "{{.Version}}", "github.com/pulumi/pulumi/pkg/v3"],
        cwd=ROOT / "tools",
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert version == pinned


def test_a_stack_with_only_the_required_keys_passes_the_declarations(project_copy):
    new_stack(
        project_copy,
        "node1",
        domain="node1.example.com",
        host="203.0.113.10",
        acmeEmail="ops@example.com",
        manageDns="false",
    )
    preview = pulumi(project_copy, "preview")
    # the stack, four components, five steps and the endpoint check
    assert preview.returncode == 0, preview.stdout + preview.stderr
    assert "11 to create" in preview.stdout, preview.stdout


def test_a_missing_required_key_and_a_wrong_type_are_refused_by_the_cli(project_copy):
    new_stack(project_copy, "node1", domain="node1.example.com", sshPort="twenty-two")
    preview = pulumi(project_copy, "preview")
    output = preview.stdout + preview.stderr
    assert preview.returncode != 0 and PREVIEWED not in output
    assert "missing configuration values 'pactus-secure:acmeEmail' and 'pactus-secure:host'" in output, output
    assert pulumi(project_copy, "config", "set", "acmeEmail", "ops@example.com").returncode == 0
    assert pulumi(project_copy, "config", "set", "host", "203.0.113.10").returncode == 0
    preview = pulumi(project_copy, "preview")
    output = preview.stdout + preview.stderr
    assert "configuration key 'pactus-secure:sshPort' must be of type 'integer'" in output, output


@pytest.mark.parametrize(
    "stack", sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in (ROOT / "examples/fleet").glob("Pulumi.*.yaml"))
)
def test_each_example_fleet_stack_passes_the_declarations(project_copy, stack):
    fleet = project_copy / "examples/fleet"
    assert pulumi(fleet, "stack", "init", stack).returncode == 0
    assert pulumi(fleet, "config", "set", "--secret", "sshPrivateKey", stdin=SSH_KEY).returncode == 0
    assert pulumi(fleet, "config", "set", "manageDns", "false").returncode == 0
    preview = pulumi(project_copy, "-C", str(fleet), "preview", "--stack", stack)
    assert preview.returncode == 0 and PREVIEWED in preview.stdout, preview.stdout + preview.stderr


def test_the_real_engine_refuses_what_would_open_the_node_and_warns_where_json_rpc_stays_unread(project_copy):
    """Before anything runs: CORS for every origin not meant, the wallet routed to the whole
    internet; then, on a RedHat host, the preview says the key-signing call stays on JSON-RPC."""
    required = {"domain": "node1.example.com", "host": "203.0.113.10", "acmeEmail": "o@example.com"}
    new_stack(project_copy, "node1", **required, manageDns="false", distro="redhat")
    assert pulumi(project_copy, "config", "set", "--path", "http.enable", "true").returncode == 0
    assert pulumi(project_copy, "config", "set", "--path", "http.enableCors", "true").returncode == 0
    assert pulumi(project_copy, "config", "set", "--path", "walletNetworks[0]", "0.0.0.0/1").returncode == 0
    refused = pulumi(project_copy, "preview")
    output = refused.stdout + refused.stderr
    assert refused.returncode != 0 and "command:remote:Command" not in output  # the program stopped first
    assert "http.enableCors = True" in output and "set http.allowAnyOrigin true to mean it" in output, output
    assert "walletNetworks = '0.0.0.0/1': is wider than a /16" in output, output
    for key in ("http.enableCors", "walletNetworks", "http.enable"):
        assert pulumi(project_copy, "config", "rm", "--path", key).returncode == 0
    assert pulumi(project_copy, "config", "set", "--path", "jsonrpc.enable", "true").returncode == 0
    warned = pulumi(project_copy, "preview")
    assert warned.returncode == 0 and "command:remote:Command" in warned.stdout, warned.stdout + warned.stderr
    assert (
        "pactus.utils.sign_message_with_private_key, which takes a raw private key, reaches the node on this host"
        in (" ".join(warned.stdout.split()))
    ), warned.stdout
