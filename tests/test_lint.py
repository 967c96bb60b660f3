"""ruff's lint and format checks, with the rules and reasons in ruff.toml."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
RUFF = Path(sys.prefix) / "bin" / "ruff"  # requirements.txt pins it into the venv


@pytest.mark.parametrize(
    "check, fix", [(["check"], "ruff check --fix ."), (["format", "--check"], "ruff format .")], ids=["lint", "format"]
)
def test_the_tree_passes_ruff(check, fix):
    result = subprocess.run([str(RUFF), *check, "."], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, f"`ruff {' '.join(check)} .` failed: `venv/bin/{fix}` mends most\n{result.stdout}"
