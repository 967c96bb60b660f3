"""The endpoint check as the stack's local command runs it (its command line, from the
program's folder): what it prints when the node cannot be reached. Through the real engine
it runs in tests/host: after every `up` that changed a part, and not on a no-op preview."""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import subprocess

from clients.endpoint import CONFIG_UNAPPLIED, RESTART_CAUSE, Endpoint
from components.endpoint_check import PROGRAM_DIR, check_command
from render.templating import FAILS


def closed_port() -> int:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        return unused.getsockname()[1]  # closed once the block ends: nothing listens there


def run_check(endpoint: Endpoint, **environment: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        check_command(),
        shell=True,
        cwd=PROGRAM_DIR,
        input=json.dumps(dataclasses.asdict(endpoint)),
        capture_output=True,
        text=True,
        env={**os.environ, **environment},
        timeout=60,
    )


def test_an_unreachable_node_fails_the_check_with_one_line_naming_what_was_expected():
    port = closed_port()
    failed = run_check(Endpoint("127.0.0.1", True, "/jsonrpc", None, False, None, port=port, timeout=2))
    assert failed.returncode == 1
    assert failed.stdout == ""
    assert failed.stderr == (
        f"{FAILS}the endpoint check failed: https://127.0.0.1:{port}: expected a TLS certificate for "
        f"127.0.0.1 that this machine trusts, got: [Errno 111] Connection refused\n"
    )


def test_a_tls_failure_is_not_blamed_on_a_node_left_unrestarted():
    """The restart cause leads only a wrong answer from the node (tests/host/test_metrics.py);
    a handshake that fails has nothing to do with config.toml."""
    endpoint = Endpoint("127.0.0.1", True, None, None, False, None, port=closed_port(), timeout=2)
    failed = run_check(endpoint, **{CONFIG_UNAPPLIED: "yes"})
    assert failed.returncode == 1
    assert "TLS certificate" in failed.stderr
    assert RESTART_CAUSE not in failed.stderr
