"""tools/build in a clone with no ../shared/vendor beside it (docs/tools.md): without
pulumi-command's provider installed it stops before any Go command and says how to install
it; with it, a tool that is not installed is built through the public Go module proxy, and
what the proxy refuses is named. With the tools installed the demo runs
(tests/host/test_demo.py)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

TOOLS = Path(__file__).resolve().parents[1] / "tools"
GO = shutil.which("go") or "/usr/local/go/bin/go"


def clone_without_vendor(tmp_path: Path) -> Path:
    copy = tmp_path / "repo" / "tools"
    shutil.copytree(TOOLS, copy, ignore=shutil.ignore_patterns("bin"))
    shutil.copy(TOOLS.parent / "requirements.txt", copy.parent)  # pulumi-command's version
    return copy


def run_build(copy: Path, tmp_path: Path) -> subprocess.CompletedProcess:
    """As a user with Go and nothing else of ours installed (this machine's Go caches, for speed)."""
    go_env = {
        name: subprocess.run([GO, "env", name], capture_output=True, text=True).stdout.strip()
        for name in ("GOPATH", "GOCACHE")
    }
    environment = {
        "PATH": f"{Path(GO).parent}:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "PULUMI_HOME": str(tmp_path / ".pulumi"),
        **go_env,
    }
    return subprocess.run([str(copy / "build")], capture_output=True, text=True, timeout=900, env=environment)


def test_without_the_provider_it_stops_before_any_go_command_and_says_how_to_install_it(tmp_path):
    copy = clone_without_vendor(tmp_path)
    result = run_build(copy, tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert not (copy / "bin" / "pulumi").exists()
    assert f"{tmp_path}/shared/vendor is missing, so pulumi-command's provider is not built here" in result.stderr
    assert "run `pulumi plugin install resource command 1.2.1`" in result.stderr


def test_a_tool_not_installed_is_built_through_the_proxy_and_a_refusal_is_named(tmp_path):
    """Here the proxy refuses the language host's module: the build stops, naming it and the 403."""
    plugin = tmp_path / ".pulumi" / "plugins" / "resource-command-v1.2.1" / "pulumi-resource-command"
    plugin.parent.mkdir(parents=True)
    plugin.write_text("#!/bin/sh\n")
    plugin.chmod(0o755)
    copy = clone_without_vendor(tmp_path)
    result = run_build(copy, tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "building pulumi from the Go module proxy" in result.stdout
    assert os.access(copy / "bin" / "pulumi", os.X_OK)  # the CLI's modules are served
    assert "pulumi-language-python is not installed, and the Go module proxy" in result.stderr
    assert "403 Forbidden. Install pulumi-language-python instead (docs/tools.md)." in result.stderr
    assert (copy / "go.sum").read_bytes() == (TOOLS / "go.sum").read_bytes()  # the hashes go added went to a copy
