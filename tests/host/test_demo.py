"""`./demo`, as a new user runs it: up, a call through the proxy, a second up that changes
nothing, preview of a change, down, and nothing of the demo left on this machine."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import grpc
import pytest
from pactus_grpc import blockchain_pb2, blockchain_pb2_grpc

from testbed import demo, servers
from testbed.stack import TEST_PASSPHRASE
from testbed.tools import PROVIDER_VERSION, provider, tool

pytestmark = pytest.mark.host
REPO = Path(__file__).resolve().parents[2]


def run_demo(command: str, state: Path, repo: Path = REPO, **environment: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["./demo", command],
        cwd=repo,
        env={**os.environ, "PACTUS_SECURE_DEMO_STATE": str(state), **environment},
        capture_output=True,
        text=True,
        timeout=1200,
    )


def leftovers() -> list[str]:
    """What of the demo this machine still has."""
    found = []
    processes = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    found += [
        line
        for line in processes.splitlines()
        if f"-M {demo.NAME}" in line or f":{demo.PORTS.acme}" in line or f":{demo.PORTS.dns}" in line
    ]
    if subprocess.run(["ip", "link", "show", f"ve-{demo.NAME}"[:15]], capture_output=True).returncode == 0:
        found.append("its network interface")
    if (
        subprocess.run(
            ["iptables", "-t", "nat", "-C", *servers.masquerade(demo.SUBNET)], capture_output=True
        ).returncode
        == 0
    ):
        found.append("its NAT rule")
    found += [line for line in Path("/etc/hosts").read_text().splitlines() if demo.HOSTS_MARK in line]
    return found


def root_alone(state: Path) -> list[str]:
    """What in the demo's folder another user could reach: the folder must be 0700, and the
    stack file, the state, the key and the passphrase 0600."""
    wrong = [] if state.stat().st_mode & 0o777 == 0o700 else [f"{state}: {state.stat().st_mode & 0o777:o}"]
    secret = [
        state / "passphrase",
        state / "deploy_key",
        state / "pulumi" / "project" / f"Pulumi.{demo.STACK}.yaml",
        *(state / "pulumi" / "state").rglob("*.json"),
    ]
    return wrong + [f"{path}: {path.stat().st_mode & 0o777:o}" for path in secret if path.stat().st_mode & 0o077]


def test_the_demo_comes_up_answers_through_nginx_and_down_leaves_nothing(tmp_path):
    state = tmp_path / "demo"
    forwarding = servers.IP_FORWARD.read_text()
    try:
        up = run_demo("up", state)
        assert up.returncode == 0, up.stdout[-4000:] + up.stderr[-4000:]
        for api in ("gRPC ", "JSON-RPC ", "HTTP-API "):
            assert any(line.strip().startswith(api) and "last block height" in line for line in up.stdout.splitlines())
        assert "curl --cacert" in up.stdout and f"dial {demo.DOMAIN}:443" in up.stdout
        assert root_alone(state) == []
        assert (state / "passphrase").read_text() not in (TEST_PASSPHRASE, "")

        root = (state / "pebble" / "issuing-root.pem").read_bytes()
        with grpc.secure_channel(f"{demo.DOMAIN}:443", grpc.ssl_channel_credentials(root)) as channel:
            info = blockchain_pb2_grpc.BlockchainStub(channel).GetBlockchainInfo(
                blockchain_pb2.GetBlockchainInfoRequest(), timeout=10
            )
        assert info.total_validators > 0

        again = run_demo("up", state)
        assert again.returncode == 0 and "unchanged" in again.stdout and " created" not in again.stdout, again.stdout
        assert "is running: reused" in again.stdout

        preview = run_demo("preview", state)
        assert preview.returncode == 0 and demo.ADDED_ORIGIN in preview.stdout and "1 to update" in preview.stdout, (
            preview.stdout
        )
    finally:
        down = run_demo("down", state)
    assert down.returncode == 0, down.stdout + down.stderr
    assert leftovers() == [] and not state.exists()
    assert servers.IP_FORWARD.read_text() == forwarding


def test_the_demo_runs_from_a_clone_with_no_shared_folder_on_the_tools_a_user_installed(tmp_path):
    """A user's clone: no ../shared/vendor beside it, a Pulumi CLI (with its language host) and a
    pactus-daemon on PATH, pulumi-command's provider installed as `pulumi plugin install` does
    into the user's PULUMI_HOME (here tools/build's binaries stand in for the downloads)."""
    clone, path, home = tmp_path / "user" / "pactus-secure", tmp_path / "user" / "bin", tmp_path / "user" / ".pulumi"
    subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True)
    path.mkdir()
    for name in ("pulumi", "pulumi-language-python", "pulumi-language-python-exec", "pactus-daemon"):
        (path / name).symlink_to(tool(name))
    user = {"PATH": f"{path}:{os.environ['PATH']}", "PULUMI_HOME": str(home)}
    subprocess.run(
        [tool("pulumi"), "plugin", "install", "resource", "command", PROVIDER_VERSION, "--file", str(provider())],
        env={**os.environ, **user},
        check=True,
        capture_output=True,
    )
    state = tmp_path / "demo"
    try:
        up = run_demo("up", state, clone, **user)
        assert up.returncode == 0, up.stdout[-4000:] + up.stderr[-4000:]
        vendor = tmp_path / "user" / "shared" / "vendor"
        assert f"no {vendor}: pulumi-command's provider is {home}/plugins/" in up.stdout, up.stdout[-4000:]
        assert f"tools/build: pulumi is {path / 'pulumi'}" in up.stdout, up.stdout[-4000:]
        assert f"tools/build: pactus-daemon is {path / 'pactus-daemon'}" in up.stdout, up.stdout[-4000:]
        assert not (clone / "tools" / "bin" / "pulumi").exists()
        assert any(line.strip().startswith("gRPC ") and "last block height" in line for line in up.stdout.splitlines())
    finally:
        down = run_demo("down", state, clone, **user)
    assert down.returncode == 0, down.stdout + down.stderr
    assert leftovers() == []
    assert not state.exists()
