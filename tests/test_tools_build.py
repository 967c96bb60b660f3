"""tools/build without ../shared/vendor: it stops before any go command, and says how to get
the CLI on a machine with the internet."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

TOOLS = Path(__file__).resolve().parents[1] / "tools"


def test_without_the_vendor_folder_it_stops_and_says_where_the_cli_comes_from(tmp_path):
    copy = tmp_path / "repo" / "tools"
    shutil.copytree(TOOLS, copy, ignore=shutil.ignore_patterns("bin"))
    shutil.copy(TOOLS.parent / "requirements.txt", copy.parent)  # pulumi-command's version
    result = subprocess.run([str(copy / "build")], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and not (copy / "bin" / "pulumi").exists()
    assert f"{tmp_path}/shared/vendor/" in result.stderr and "is missing" in result.stderr
    assert "Pulumi's installer" in result.stderr and "fetches the command provider itself" in result.stderr
