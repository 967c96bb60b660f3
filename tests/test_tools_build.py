"""tools/build without ../shared/vendor and with no CLI installed: it stops before any go
command, and says how to get the tools on a machine with the internet. With them installed it
goes on (tests/host/test_demo.py runs the demo so)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

TOOLS = Path(__file__).resolve().parents[1] / "tools"


def test_without_the_vendor_folder_it_stops_and_says_where_the_cli_comes_from(tmp_path):
    copy = tmp_path / "repo" / "tools"
    shutil.copytree(TOOLS, copy, ignore=shutil.ignore_patterns("bin"))
    shutil.copy(TOOLS.parent / "requirements.txt", copy.parent)  # pulumi-command's version
    nothing_installed = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PULUMI_HOME": str(tmp_path / "no-home")}
    result = subprocess.run([str(copy / "build")], capture_output=True, text=True, timeout=60, env=nothing_installed)
    assert result.returncode == 1 and not (copy / "bin" / "pulumi").exists()
    assert f"{tmp_path}/shared/vendor is missing" in result.stderr
    assert "none is installed instead of: pulumi; pulumi-language-python; pactus-daemon; pulumi-command's provider" in (
        result.stderr
    )
    assert "Pulumi's installer" in result.stderr
    assert "`pulumi plugin install resource command 1.2.1`" in result.stderr
